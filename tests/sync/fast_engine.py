"""An engine without a sandbox, for fast tests of its decisions: a database test's
setup and run, no Graph client, and a stand-in outbox that records what the engine
would send to Outlook. The same decisions, end to end over the sandbox, are in the
other tests of this folder; these run in milliseconds, so `make mutate` can afford them."""

from __future__ import annotations

from contacts.models import Contact
from exchange_sync.graph.client import DeltaPage
from exchange_sync.mapping import contact_values, graph_body, values_hash
from exchange_sync.models import ContactLink, ExchangeSyncSetup, SyncRun
from exchange_sync.patch import outlook_lists
from exchange_sync.sync.engine import Engine
from tests.factories import make_user


class Outbox:
    """Stands in for the engine's outbox: what it would send to Outlook."""

    def __init__(self) -> None:
        self.ops = []

    def add(self, op) -> None:
        self.ops.append(op)

    def flush(self) -> None:
        pass

    def for_contact(self, contact: Contact) -> list:
        return [op for op in self.ops if op.link.contact_id == contact.pk]

    def sent(self, contact: Contact) -> dict[str, str]:
        (op,) = self.for_contact(contact)
        return op.values


def offline_engine_for_tests() -> Engine:
    user = make_user(mailbox="ann@cronus.example")
    setup = ExchangeSyncSetup.objects.create(user=user, keep_outlook_edits=True)
    run = SyncRun.objects.create(setup=setup, kind=SyncRun.Kind.INCREMENTAL, trigger=SyncRun.Trigger.COMMAND)
    engine = Engine(run, setup, client=None, progress=None)
    engine.outbox = Outbox()
    return engine


def outlook_copy(contact: Contact, graph_id: str | None = None, **outlook_only) -> dict:
    """The Outlook contact bcsync would have written for `contact`, with `outlook_only`
    (Graph properties) as a person set them there."""
    item = {**graph_body(contact_values(contact)), "id": graph_id or f"AAMk-{contact.no}", "changeKey": "ck1"}
    return {**item, **outlook_only}


def synced(engine: Engine, contact: Contact, **outlook_only) -> ContactLink:
    """A link as a sync leaves it: Outlook holds what bcsync wrote, plus, in slots
    Business Central leaves empty, the person's own list entries (`outlook_only`, as
    Graph properties)."""
    item = outlook_copy(contact, **outlook_only)
    return ContactLink.objects.create(
        setup=engine.setup,
        contact=contact,
        contact_no=contact.no,
        graph_id=item["id"],
        change_key=item["changeKey"],
        state=ContactLink.State.LINKED,
        snapshot=contact_values(contact),
        fields_hash="h",
        outlook_lists=outlook_lists(item),
    )


def in_step(engine: Engine, contact: Contact, **outlook_only) -> ContactLink:
    """A link whose Outlook copy holds the contact's values as they are now (its hash
    confirmed): a contact the push has nothing to send for."""
    link = synced(engine, contact, **outlook_only)
    link.fields_hash = values_hash(contact_values(contact))
    link.save(update_fields=["fields_hash"])
    return link


class DeltaFolder:
    """Stands in for the Graph client's delta query: the pages a delta round returns,
    and the arguments of each round asked for."""

    def __init__(self, *pages: DeltaPage) -> None:
        self.pages = list(pages)
        self.calls: list[dict] = []

    def iter_contacts_delta(self, mailbox, folder_id, delta_link=None, select=None, page_size=None):
        self.calls.append(
            {
                "mailbox": mailbox,
                "folder_id": folder_id,
                "delta_link": delta_link,
                "select": select,
                "page_size": page_size,
            }
        )
        yield from self.pages
