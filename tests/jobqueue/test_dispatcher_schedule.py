"""The dispatcher's django-q2 schedule exists after migrate and can be recreated."""

import pytest
from django.core.management import call_command
from django_q.models import Schedule

from jobqueue.services import DISPATCHER_FUNC, DISPATCHER_SCHEDULE_NAME

pytestmark = pytest.mark.django_db


def test_migrate_created_the_dispatcher_schedule_every_minute():
    schedule = Schedule.objects.get(name=DISPATCHER_SCHEDULE_NAME)
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        DISPATCHER_FUNC,
        Schedule.MINUTES,
        1,
        -1,
    )


def test_the_command_recreates_a_deleted_schedule_and_is_idempotent(capsys):
    Schedule.objects.filter(name=DISPATCHER_SCHEDULE_NAME).delete()
    call_command("jobqueue_schedule")
    call_command("jobqueue_schedule")
    assert Schedule.objects.filter(name=DISPATCHER_SCHEDULE_NAME).count() == 1
    assert "Created" in capsys.readouterr().out


def test_the_command_repairs_an_edited_schedule_and_removes_duplicates():
    Schedule.objects.filter(name=DISPATCHER_SCHEDULE_NAME).update(minutes=60)
    Schedule.objects.create(name=DISPATCHER_SCHEDULE_NAME, func=DISPATCHER_FUNC)
    call_command("jobqueue_schedule")
    assert list(Schedule.objects.filter(name=DISPATCHER_SCHEDULE_NAME).values_list("minutes", flat=True)) == [1]
