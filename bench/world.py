"""Seeding and checking, through the ORM of the bench database (see bench.harness).

Each scenario gets its own user, sandbox mailbox and setup, whose contact filter
(Salesperson Code = the scenario's tag) keeps the scenarios' contacts apart.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

CHUNK = 2000


@dataclass
class World:
    """One scenario's user, mailbox and setup."""

    tag: str
    # The Salesperson Code of the setup's filter: the tag, unless worlds share contacts.
    code: str = ""

    def __post_init__(self) -> None:
        self.code = self.code or self.tag

    @property
    def email(self) -> str:
        return f"{self.tag.lower()}@bench.example"

    def create(self) -> World:
        from django.contrib.auth import get_user_model

        from exchange_sync.models import ExchangeSyncSetup, M365Identity
        from exchange_sync.sandbox.services import mailbox_add

        mailbox_add(self.email)
        user = get_user_model().objects.create_user(self.tag.lower(), is_staff=True)
        M365Identity.objects.create(user=user, authentication_email=self.email)
        ExchangeSyncSetup.objects.create(user=user, contact_filter={"salesperson_code": self.code})
        return self

    @property
    def setup(self):
        from exchange_sync.models import ExchangeSyncSetup

        return ExchangeSyncSetup.objects.get(user__m365_identity__authentication_email=self.email)

    def seed(self, count: int, *, start: int = 1, **fields: object) -> None:
        """`count` Person contacts numbered <tag>0000001.. with every mapped field filled
        (bulk_create skips save(), so the number and name are set here)."""
        from contacts.models import Contact

        batch = []
        for n in range(start, start + count):
            no = f"{self.code}{n:07d}"
            values = {
                "no": no,
                "type": Contact.Type.PERSON,
                "first_name": f"First{n}",
                "surname": f"Surname{n}",
                "name": f"First{n} Surname{n}",
                "initials": "FS",
                "job_title": "Buyer",
                "company_name": "Cronus Ltd.",
                "email": f"{no.lower()}@customers.example",
                "phone": f"+44 20 7946 {n % 10000:04d}",
                "mobile_phone": f"+44 7700 9{n % 100000:05d}",
                "home_page": "https://cronus.example",
                "address": f"{n} High Street",
                "city": "London",
                "post_code": "W1 2AB",
                "country_region_code": "GB",
                "salesperson_code": self.code,
                **fields,
            }
            batch.append(Contact(**values))
            if len(batch) == CHUNK:
                Contact.objects.bulk_create(batch)
                batch = []
        Contact.objects.bulk_create(batch)

    def configure(self, **knobs: object) -> None:
        from exchange_sync.sandbox.services import mailbox_configure

        mailbox_configure(self.email, **knobs)


@dataclass
class Check:
    """The outcome of comparing both sides of a setup."""

    problems: list[str] = field(default_factory=list)
    outlook_contacts: int = 0
    in_scope: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def both_sides_check(world: World, client, *, expected_contacts: int | None = None) -> Check:
    """No duplicate in the folder, no contact lost on either side, both sides equal for
    in-scope contacts (mapped values compared field by field)."""
    from contacts.models import Contact
    from exchange_sync.graph.stamp import stamp_value
    from exchange_sync.mapping import GRAPH_SELECT, contact_values, outlook_values
    from exchange_sync.selectors import contacts_in_scope

    check = Check()
    setup = world.setup
    if not setup.folder_id:
        check.problems.append("the setup has no Outlook folder")
        return check
    pages = client.iter_contacts(world.email, setup.folder_id, select=GRAPH_SELECT, expand_stamp=True, page_size=1000)
    items = [item for page in pages for item in page]
    check.outlook_contacts = len(items)
    stamps = Counter((stamp_value(item) or "").upper() for item in items)
    duplicates = [stamp for stamp, n in stamps.items() if n > 1]
    if duplicates:
        check.problems.append(f"{len(duplicates)} duplicated in Outlook, e.g. {duplicates[:3]}")
    if stamps.get(""):
        check.problems.append(f"{stamps['']} Outlook contacts without a contact number")
    scope = {c.no: c for c in contacts_in_scope(setup).iterator(chunk_size=CHUNK)}
    check.in_scope = len(scope)
    missing = sorted(set(scope) - set(stamps))
    extra = sorted(set(stamps) - set(scope) - {""})
    if missing:
        check.problems.append(f"{len(missing)} in-scope contacts missing in Outlook, e.g. {missing[:3]}")
    if extra:
        check.problems.append(f"{len(extra)} Outlook contacts not in scope, e.g. {extra[:3]}")
    different = []
    for item in items:
        contact = scope.get((stamp_value(item) or "").upper())
        if contact is not None and outlook_values(item) != contact_values(contact):
            different.append(contact.no)
    if different:
        check.problems.append(f"{len(different)} differ between the sides, e.g. {different[:3]}")
    if expected_contacts is not None:
        count = Contact.objects.filter(salesperson_code=world.code).count()
        if count != expected_contacts:
            check.problems.append(f"Business Central has {count} contacts, expected {expected_contacts}")
    return check
