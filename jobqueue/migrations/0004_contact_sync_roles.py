"""The roles of Contact Sync, as Business Central's permission sets: a group for the
salesperson who synchronizes their own contacts, and one for sync administrators.

Lives in jobqueue, the app at the top of the dependency chain (jobqueue -> exchange_sync
-> contacts), because the roles hold permissions of all three. Running it again (or after
new permissions appear) sets each group to exactly the listed permissions.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

# Own rows only: without exchange_sync.view_all_sync_setups and
# jobqueue.manage_all_entries the admin shows each user only their own.
CONTACT_SYNC_USER = [
    "contacts.view_contact",
    "contacts.add_contact",
    "contacts.change_contact",
    "exchange_sync.view_exchangesyncsetup",
    "exchange_sync.add_exchangesyncsetup",
    "exchange_sync.change_exchangesyncsetup",
    "exchange_sync.run_contact_sync",
    "exchange_sync.view_syncrun",
    "exchange_sync.view_syncissue",
    "jobqueue.view_jobqueueentry",
    "jobqueue.add_jobqueueentry",
    "jobqueue.change_jobqueueentry",
    "jobqueue.delete_jobqueueentry",
    "jobqueue.view_jobqueuelogentry",
]
# Everyone's setups, runs, issues and entries; no auth.change_user (it would let an
# administrator make themselves superuser), so users are still managed by a superuser.
CONTACT_SYNC_ADMINISTRATOR = [
    *CONTACT_SYNC_USER,
    "contacts.delete_contact",
    "exchange_sync.delete_exchangesyncsetup",
    "exchange_sync.view_all_sync_setups",
    "jobqueue.manage_all_entries",
    "jobqueue.delete_jobqueuelogentry",
    "auth.view_user",
]
ROLES = {"Contact Sync User": CONTACT_SYNC_USER, "Contact Sync Administrator": CONTACT_SYNC_ADMINISTRATOR}


def create_roles(apps, schema_editor):
    # Permissions are normally made after the last migration (post_migrate); make them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, names in ROLES.items():
        wanted = {tuple(permission.split(".")) for permission in names}
        permissions = [
            p
            for p in Permission.objects.select_related("content_type")
            if (p.content_type.app_label, p.codename) in wanted
        ]
        assert len(permissions) == len(wanted), (
            f"{name}: missing {wanted - {(p.content_type.app_label, p.codename) for p in permissions}}"
        )
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(permissions)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("contacts", "0004_people_of_a_deleted_company_change"),
        ("exchange_sync", "0011_runs_outlive_users"),
        ("jobqueue", "0003_entries_go_with_their_user"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
