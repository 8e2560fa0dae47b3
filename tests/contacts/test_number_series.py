import threading

import pytest
from django.db import connection

from contacts.models import Contact
from tests.factories import make_person


@pytest.mark.django_db
def test_it_numbers_contacts_in_sequence():
    first, second = make_person(), make_person()
    assert first.no == "CT000001"
    assert second.no == "CT000002"


@pytest.mark.django_db
def test_it_never_reuses_the_number_of_a_deleted_contact():
    make_person()
    last = make_person()
    last.delete()
    assert make_person().no == "CT000003"


@pytest.mark.django_db(transaction=True)
def test_it_gives_distinct_numbers_to_contacts_created_concurrently():
    numbers: list[str] = []
    errors: list[BaseException] = []

    def create_some() -> None:
        try:
            for _ in range(10):
                numbers.append(make_person().no)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=create_some) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(numbers) == 40
    assert len(set(numbers)) == 40
    assert Contact.objects.count() == 40
