"""Upgrading removes the django-q2 schedule that ran the dispatcher every minute as a
task in the workers' queue (jobqueue 0005): each qcluster's ticker does its work now,
and a schedule left behind would call a task that no longer exists."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("jobqueue", "0004_contact_sync_roles")]
AFTER = [("jobqueue", "0005_cluster_heartbeat")]


@pytest.mark.django_db(transaction=True)
def test_migrating_removes_the_old_dispatcher_schedule_and_keeps_other_schedules():
    executor = MigrationExecutor(connection)
    try:
        executor.migrate(BEFORE)
        old_apps = executor.loader.project_state(BEFORE).apps
        Schedule = old_apps.get_model("django_q", "Schedule")
        Schedule.objects.create(name="Job Queue Dispatcher", func="jobqueue.tasks.dispatch_due_entries", minutes=1)
        Schedule.objects.create(name="Someone's own", func="math.floor", args="1.5")

        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)

        Schedule = executor.loader.project_state(AFTER).apps.get_model("django_q", "Schedule")
        names = list(Schedule.objects.values_list("name", flat=True))
    finally:
        executor = MigrationExecutor(connection)  # back to the latest schema for the other tests
        executor.migrate(executor.loader.graph.leaf_nodes())

    assert names == ["Someone's own"]
