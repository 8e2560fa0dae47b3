"""A person switches live sync off (or on) for their setup on its page."""

from __future__ import annotations

from django.urls import reverse

from exchange_sync.models import ExchangeSyncSetup
from tests.admin.conftest import grant_sync
from tests.factories import make_person
from tests.live.conftest import make_setup, requested


def test_a_person_switches_live_sync_off_on_the_setup_page_and_their_edits_wait_for_the_schedule(
    client, transactional_db
):
    setup = make_setup("ann", {"city": "London"})
    grant_sync(setup.user)
    client.force_login(setup.user)
    page = reverse("admin:exchange_sync_exchangesyncsetup_change", args=[setup.pk])
    assert 'name="is_live_sync_enabled"' in client.get(page).content.decode()
    response = client.post(
        page,
        {
            "is_enabled": "on",  # background sync stays on; "Live sync" left unticked
            "folder_name": "Business Central",
            "on_outlook_delete": ExchangeSyncSetup.OnOutlookDelete.RECREATE,
            "filter_city": "London",
        },
    )
    assert response.status_code == 302
    setup.refresh_from_db()
    assert not setup.is_live_sync_enabled
    assert setup.is_enabled
    make_person(city="London")
    assert requested() == set()
