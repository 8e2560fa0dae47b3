"""Microsoft 365 identity of users and (later) their sync setups, links and runs."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class M365Identity(models.Model):
    """The Microsoft 365 mailbox a user synchronizes: Business Central's
    "Microsoft 365 Authentication" section of the user card."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="m365_identity")
    authentication_email = models.EmailField(
        "Authentication Email",
        unique=True,
        help_text="The Microsoft 365 mailbox whose Outlook contacts are synchronized.",
    )

    class Meta:
        verbose_name = "Microsoft 365 Authentication"
        verbose_name_plural = "Microsoft 365 Authentication"

    def __str__(self) -> str:
        return self.authentication_email

    def save(self, *args, **kwargs) -> None:
        self.clean()
        super().save(*args, **kwargs)

    def clean(self) -> None:
        # Mailbox addresses are case-insensitive: store one spelling, so the uniqueness
        # check (which runs after clean) also catches "Ann@x" against "ann@x".
        self.authentication_email = self.authentication_email.strip().lower()
