"""The folder stamp: folders bcsync creates carry it, and folders existing setups already
use get it on their next run. (That a stamped folder of the chosen name is used without
asking is shown by the adopted-folder tests of test_nothing_lost.py and test_guarantees.py.)"""

from __future__ import annotations

from exchange_sync.models import ExchangeSyncSetup, SyncRun
from exchange_sync.sandbox import services as outlook_side
from tests.factories import make_person
from tests.sync.conftest import MAILBOX


def _is_stamped(graph, folder_id: str) -> bool:
    return graph.get_contact_folder(MAILBOX, folder_id, expand_stamp=True)["isBcsyncFolder"]


def test_a_folder_bcsync_creates_carries_its_stamp(sync, setup, graph):
    make_person()
    assert sync().status == SyncRun.Status.SUCCEEDED
    assert _is_stamped(graph, setup.folder_id)


def test_a_recreated_folder_carries_its_stamp(sync, setup, graph):
    make_person()
    sync()
    graph.delete_contact_folder(MAILBOX, setup.folder_id)
    run = sync()
    assert "created again" in run.error
    assert _is_stamped(graph, setup.folder_id)


def test_the_folder_an_existing_setup_uses_is_stamped_on_its_next_run_and_keeps_working(sync, setup, graph, outlook):
    # An installation from before folders were stamped: its folder has no stamp.
    folder = outlook_side.folder_create(outlook_side.mailbox_get(MAILBOX), "Business Central")
    ExchangeSyncSetup.objects.filter(pk=setup.pk).update(
        folder_id=folder.graph_id, folder_name_in_outlook="Business Central"
    )
    person = make_person()

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert _is_stamped(graph, folder.graph_id)
    assert person.no in outlook.by_stamp()
    setup.refresh_from_db()
    assert setup.folder_id == folder.graph_id and not setup.needs_attention
