"""The Exchange Sync. Setup / Contact Sync. Setup form: the contact filter as one text
box per allow-listed field, in Business Central's filter syntax, and the Outlook folder
name checked against the mailbox (a person's own folder is used only when adopted)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from exchange_sync.contact_filter import FILTER_FIELDS, FILTER_SYNTAX, contact_filter_validate
from exchange_sync.folder_check import FolderNameCheck, folder_name_check
from exchange_sync.models import ExchangeSyncSetup

FILTER_PREFIX = "filter_"


def filter_form_field(field: str) -> str:
    return f"{FILTER_PREFIX}{field}"


def contact_filter_from_data(data: dict) -> dict[str, str]:
    """The raw filter from submitted form (or query) data: {field: expression}."""
    return {field: str(data.get(filter_form_field(field), "")) for field in FILTER_FIELDS}


class ExchangeSyncSetupForm(forms.ModelForm):
    adopt_existing_folder = forms.BooleanField(
        label="Adopt the existing folder",
        required=False,
        help_text=(
            "Only when a folder of this name already exists in Outlook and bcsync did not create it: synchronize "
            "into it. Its contacts with the email of a synchronized contact are linked to it."
        ),
    )
    # Checks the chosen folder name against Outlook (tests give their own).
    folder_check = staticmethod(folder_name_check)

    class Meta:
        model = ExchangeSyncSetup
        fields = [
            "is_enabled",
            "is_live_sync_enabled",
            "folder_name",
            "imports_existing_contacts",
            "keep_outlook_edits",
            "on_outlook_delete",
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["adopt_existing_folder"].initial = bool(self.instance.adopted_folder_id)
        # What the admin tells the person after saving.
        self.folder_warning = self.folder_adopted = ""
        saved = self.instance.contact_filter if isinstance(self.instance.contact_filter, dict) else {}
        for field, caption in FILTER_FIELDS.items():
            self.fields[filter_form_field(field)] = forms.CharField(
                label=f"{caption} filter",
                required=False,
                max_length=250,
                initial=saved.get(field, ""),
                help_text=FILTER_SYNTAX if field == "name" else "",
                widget=forms.TextInput(attrs={"class": "vTextField", "data-contact-filter": field}),
            )

    def clean_folder_name(self) -> str:
        name = self.cleaned_data["folder_name"].strip()
        if not name:
            raise ValidationError("Enter the name of the Outlook folder.")
        return name

    def clean(self) -> dict:
        cleaned = super().clean()
        raw = {field: cleaned.get(filter_form_field(field)) or "" for field in FILTER_FIELDS}
        try:
            self.instance.contact_filter = contact_filter_validate(raw)
        except ValidationError as exc:
            self.add_error(None, exc)
        if cleaned.get("folder_name") and not self.errors:
            self._check_folder(cleaned["folder_name"], cleaned)
        return cleaned

    def _check_folder(self, name: str, cleaned: dict) -> None:
        """Refuse a rename onto an existing folder; ask before using a person's folder."""
        check: FolderNameCheck = self.folder_check(self.instance, name)
        self.folder_warning = check.warning
        if check.is_taken:
            self.add_error(
                "folder_name",
                f"The folder '{name}' already exists in Outlook, so the folder "
                f"'{self.instance.folder_name_in_outlook}' cannot be renamed to it. Choose another name, or rename "
                "or remove that folder in Outlook first.",
            )
        elif check.person_folder_id and cleaned.get("adopt_existing_folder"):
            self.instance.adopted_folder_id = check.person_folder_id
            what = "imported into" if cleaned.get("imports_existing_contacts") else "left alone by"
            self.folder_adopted = (
                f"The existing Outlook folder '{name}' ({_contacts(check.contact_count)}) is adopted: the next sync "
                "links its contacts that have the email of a synchronized contact; its other contacts are "
                f"{what} Business Central."
            )
        elif check.person_folder_id:
            self.add_error(
                "folder_name",
                f"The folder '{name}' already exists in Outlook with {_contacts(check.contact_count)}, and bcsync "
                "did not create it. Tick 'Adopt the existing folder' to synchronize into it (and 'Import its other "
                "contacts' to also copy its contacts that match no synchronized contact), or choose another name.",
            )
        elif not check.warning and not self.instance.folder_id:
            self.instance.adopted_folder_id = ""  # the name no longer names a person's folder


def _contacts(count: int) -> str:
    return f"{count} contact{'s' if count != 1 else ''}"
