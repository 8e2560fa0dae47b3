"""Each qcluster's ticker replaces the django-q2 schedule that ran the dispatcher as a
task in the workers' queue (where it waited behind every queued sync): the heartbeat
table it writes, and the old schedule's row removed."""

from django.db import migrations, models

OLD_SCHEDULE_FUNC = "jobqueue.tasks.dispatch_due_entries"


def remove_dispatcher_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func=OLD_SCHEDULE_FUNC).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("jobqueue", "0004_contact_sync_roles"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.CreateModel(
            name="ClusterHeartbeat",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("cluster_name", models.CharField(max_length=100)),
                ("host", models.CharField(max_length=255)),
                ("pid", models.PositiveIntegerField()),
                ("started_at", models.DateTimeField()),
                ("last_tick_at", models.DateTimeField(blank=True, db_index=True, null=True)),
            ],
            options={"verbose_name": "Job Queue Cluster Heartbeat"},
        ),
        migrations.RunPython(remove_dispatcher_schedule, migrations.RunPython.noop),
    ]
