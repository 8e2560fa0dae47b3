"""The Contact Sync User and Contact Sync Administrator groups (jobqueue/roles.py)."""

from django.db import migrations

from jobqueue.roles import ROLES, contact_sync_roles_ensure


def create_roles(apps, schema_editor):
    contact_sync_roles_ensure(apps)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("contacts", "0004_people_of_a_deleted_company_change"),
        ("exchange_sync", "0010_runs_outlive_users"),
        ("jobqueue", "0003_entries_go_with_their_user"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
