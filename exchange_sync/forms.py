"""The Exchange Sync. Setup / Contact Sync. Setup form: the contact filter as one text
box per allow-listed field, in Business Central's filter syntax."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from exchange_sync.contact_filter import FILTER_FIELDS, FILTER_SYNTAX, contact_filter_validate
from exchange_sync.models import ExchangeSyncSetup

FILTER_PREFIX = "filter_"


def filter_form_field(field: str) -> str:
    return f"{FILTER_PREFIX}{field}"


def contact_filter_from_data(data: dict) -> dict[str, str]:
    """The raw filter from submitted form (or query) data: {field: expression}."""
    return {field: str(data.get(filter_form_field(field), "")) for field in FILTER_FIELDS}


class ExchangeSyncSetupForm(forms.ModelForm):
    class Meta:
        model = ExchangeSyncSetup
        fields = ["is_enabled", "folder_name", "keep_outlook_edits", "on_outlook_delete"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
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
        return cleaned
