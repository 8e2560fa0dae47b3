"""Business Central's Contact card and the number series that numbers it."""

from __future__ import annotations

from django.db import models, router, transaction
from django.db.models import F
from django.utils import timezone

from contacts.signals import contacts_changed

CONTACT_SERIES_CODE = "CONT"


class NumberSeries(models.Model):
    """A No. Series: hands out codes such as CT000001, never the same one twice."""

    code = models.CharField(max_length=20, unique=True)
    prefix = models.CharField(max_length=10)
    width = models.PositiveSmallIntegerField(default=6)
    last_no_used = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = "No. Series"
        verbose_name_plural = "No. Series"

    def __str__(self) -> str:
        return self.code

    @classmethod
    def next_code(cls, code: str, *, prefix: str, width: int = 6) -> str:
        """Take the next number of series `code`, creating the series on first use.

        The increment is one UPDATE, which the database serializes (a row lock on
        PostgreSQL, the write lock on SQLite), so concurrent callers always get distinct
        numbers. A number is only ever handed out together with the contact that used
        it: when the caller's transaction rolls back, both vanish together.
        """
        with transaction.atomic():
            series, _ = cls.objects.get_or_create(code=code, defaults={"prefix": prefix, "width": width})
            cls.objects.filter(pk=series.pk).update(last_no_used=F("last_no_used") + 1)
            series.refresh_from_db(fields=["last_no_used"])
        return f"{series.prefix}{series.last_no_used:0{series.width}d}"


class ContactQuerySet(models.QuerySet):
    """Bulk writes count as changes: they bump modified_at (the sync finds changed
    contacts by it) and send `contacts_changed` with the contacts they wrote."""

    def update(self, **kwargs):
        kwargs.setdefault("modified_at", timezone.now())
        # The rows are named before the UPDATE: afterwards the filter may match others.
        pks = self._pks_for_signal()
        count = super().update(**kwargs)
        _send_changed(pks, self.db)
        return count

    update.alters_data = True

    def bulk_update(self, objs, fields, batch_size=None):
        # Django carries it out through update() (above), which sends the signal.
        now = timezone.now()
        for obj in objs:
            obj.modified_at = now
        return super().bulk_update(
            objs, [*fields, "modified_at"] if "modified_at" not in fields else fields, batch_size
        )

    bulk_update.alters_data = True

    def bulk_create(self, objs, *args, **kwargs):
        objs = super().bulk_create(objs, *args, **kwargs)
        if contacts_changed.has_listeners(self.model):
            pks = {obj.pk for obj in objs if obj.pk is not None}
            # With ignore_conflicts the database returns no keys: find the rows by number.
            unnumbered = [obj.no for obj in objs if obj.pk is None and obj.no]
            if unnumbered:
                pks.update(
                    self.model._base_manager.using(self.db).filter(no__in=unnumbered).values_list("pk", flat=True)
                )
            _send_changed(pks, self.db)
        return objs

    bulk_create.alters_data = True

    def delete(self):
        # One transaction for the whole deletion, so what a deleted company's people
        # report while the deletion is being collected goes with it (see
        # detach_from_deleted_company).
        with transaction.atomic(using=self.db):
            return super().delete()

    delete.alters_data = True
    delete.queryset_only = True

    def _pks_for_signal(self) -> list[int]:
        if not contacts_changed.has_listeners(self.model):
            return []
        return list(self.values_list("pk", flat=True))


def _send_changed(pks, using: str) -> None:
    if pks:
        contacts_changed.send(sender=Contact, pks=frozenset(pks), using=using)


def detach_from_deleted_company(collector, field, sub_objs, using) -> None:
    """on_delete of Contact.company: the deleted company's people lose the link *and* the
    copied company name, and count as changed.

    SET_NULL alone would only null the link: the collector updates the rows through the
    base manager, bypassing ContactQuerySet.update(), so company_name would stay stale and
    modified_at unbumped, and the sync would never send the change to Outlook. All three
    fields are set in the same deletion.
    """
    opts = field.model._meta
    # The collector runs one UPDATE per field, in this order, each selecting the people
    # afresh by their company: the link must be cleared last, or the others match no row.
    collector.add_field_update(opts.get_field("company_name"), "", sub_objs)
    collector.add_field_update(opts.get_field("modified_at"), timezone.now(), sub_objs)
    collector.add_field_update(field, None, sub_objs)
    if contacts_changed.has_listeners(Contact):
        pks = (
            [person.pk for person in sub_objs] if isinstance(sub_objs, list) else sub_objs.values_list("pk", flat=True)
        )
        _send_changed(list(pks), using)


# Like SET_NULL: the collector may pass the people as a queryset it has not fetched.
detach_from_deleted_company.lazy_sub_objs = True


class Contact(models.Model):
    class Type(models.TextChoices):
        COMPANY = "company", "Company"
        PERSON = "person", "Person"

    no = models.CharField("No.", max_length=20, unique=True, blank=True, editable=False)
    type = models.CharField("Type", max_length=10, choices=Type.choices, default=Type.PERSON, db_index=True)
    name = models.CharField("Name", max_length=100, blank=True, db_index=True)
    first_name = models.CharField("First Name", max_length=30, blank=True)
    middle_name = models.CharField("Middle Name", max_length=30, blank=True)
    surname = models.CharField("Surname", max_length=30, blank=True)
    initials = models.CharField("Initials", max_length=30, blank=True)
    job_title = models.CharField("Job Title", max_length=30, blank=True)
    company = models.ForeignKey(
        "self",
        verbose_name="Company No.",
        on_delete=detach_from_deleted_company,
        null=True,
        blank=True,
        related_name="people",
        limit_choices_to={"type": "company"},
    )
    company_name = models.CharField("Company Name", max_length=100, blank=True, db_index=True)
    email = models.EmailField("E-Mail", max_length=80, blank=True, db_index=True)
    email_2 = models.EmailField("E-Mail 2", max_length=80, blank=True)
    phone = models.CharField("Phone No.", max_length=30, blank=True)
    mobile_phone = models.CharField("Mobile Phone No.", max_length=30, blank=True)
    home_page = models.CharField("Home Page", max_length=255, blank=True)
    address = models.CharField("Address", max_length=100, blank=True)
    address_2 = models.CharField("Address 2", max_length=50, blank=True)
    city = models.CharField("City", max_length=30, blank=True, db_index=True)
    post_code = models.CharField("Post Code", max_length=20, blank=True)
    county = models.CharField("County", max_length=30, blank=True)
    country_region_code = models.CharField("Country/Region Code", max_length=10, blank=True)
    salesperson_code = models.CharField("Salesperson Code", max_length=20, blank=True, db_index=True)
    privacy_blocked = models.BooleanField("Privacy Blocked", default=False)
    created_at = models.DateTimeField("Created", auto_now_add=True)
    modified_at = models.DateTimeField("Last Modified", auto_now=True, db_index=True)

    objects = ContactQuerySet.as_manager()

    class Meta:
        ordering = ["no"]

    def __str__(self) -> str:
        return f"{self.no} {self.name}".strip()

    def save(self, *args, **kwargs) -> None:
        # Single-row derived values (see STYLE.md: models hold single-row rules).
        if not self.no:
            self.no = NumberSeries.next_code(CONTACT_SERIES_CODE, prefix="CT")
        # A name of spaces is no name: it would show as a blank entry everywhere.
        self.name = self.name.strip()
        if self.type == self.Type.PERSON and not self.name:
            self.name = self.build_name()
        if self.type == self.Type.COMPANY:
            self.company = None
            self.company_name = self.name
        elif self.company_id:
            self.company_name = self.company.name
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "modified_at", "name", "company_name"}
        with transaction.atomic():
            super().save(*args, **kwargs)
            if self.type == self.Type.COMPANY:
                # Keep the people of this company in step with its name.
                self.people.exclude(company_name=self.name).update(company_name=self.name)

    def delete(self, *args, **kwargs):
        # See ContactQuerySet.delete: the people of a deleted company change with it.
        with transaction.atomic(using=kwargs.get("using") or router.db_for_write(type(self), instance=self)):
            return super().delete(*args, **kwargs)

    def build_name(self) -> str:
        """A Person's name from its parts, as Business Central builds it."""
        return " ".join(part for part in (self.first_name, self.middle_name, self.surname) if part)
