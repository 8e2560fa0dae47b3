"""Contacts that were already in an Outlook folder when a person adopted it for a setup.

Those with the email of an in-scope contact are linked to it, as in any bcsync folder.
The others are copied into the contact list only when the person ticked "Import its
other contacts"; otherwise they are left alone: never stamped, changed or copied, and
the adopting run says once how many. Contacts added to the folder after adoption are
handled as in any bcsync folder. Part of the engine (`engine.Engine` mixes it in).
"""

from __future__ import annotations

from typing import Any

from contacts.models import Contact
from exchange_sync.mapping import outlook_values


class AdoptedFolder:
    """Engine methods for an adopted folder; they use the engine's setup and folder id."""

    def _left_alone(self, item: dict[str, Any]) -> bool:
        """Whether an Outlook contact unknown to the sync is a person's own contact of
        the adopted folder that stays as it is (see the module's docstring)."""
        setup = self.setup
        if setup.imports_existing_contacts or not setup.adopted_folder_id or setup.adopted_folder_id != self.folder_id:
            return False
        if not setup.adopted_contacts.filter(graph_id=item["id"]).exists():
            return False  # added after the adoption
        email = outlook_values(item)["email"]
        if not email:
            return True
        matches = list(Contact.objects.filter(type=Contact.Type.PERSON, email__iexact=email).values_list("pk")[:2])
        return not (len(matches) == 1 and self._in_scope_ids([matches[0][0]]))

    def _note_adoption(self) -> None:
        """Once, on the run that adopted the folder: how many of its contacts were left alone."""
        setup = self.setup
        if setup.imports_existing_contacts:
            return
        linked = setup.links.exclude(graph_id=None).values("graph_id")
        count = setup.adopted_contacts.exclude(graph_id__in=linked).count()
        if count:
            self._note(
                f"The Outlook folder '{setup.folder_name}' was adopted. {count} contact{'s' if count != 1 else ''} "
                "already in it matched no synchronized contact by email and "
                f"{'were' if count != 1 else 'was'} left alone (not copied to Business Central, not changed). "
                "To copy them, tick 'Import its other contacts' on the setup and run a Full Sync."
            )
