"""Signals of the contact list: contacts written in ways Django's own post_save and
post_delete do not report.

`QuerySet.update()`, `bulk_create()` and `bulk_update()` write rows without calling
`save()`, and the deletion of a Company changes its people through the deletion
collector. Other apps that must follow every change of a contact (exchange_sync's live
sync) listen here and to post_save / post_delete, so the contact list never needs to
know them.
"""

from __future__ import annotations

from django.dispatch import Signal

# Sent with sender=Contact, pks=frozenset of the primary keys of the contacts created or
# changed, and using=the database alias, right after the write, inside its transaction.
contacts_changed = Signal()
