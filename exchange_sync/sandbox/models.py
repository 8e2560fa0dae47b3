"""The sandbox's mailboxes, contact folders and contacts, stored in its own tables.

The web server and the workers share them through the database. Every change to a
contact takes the next value of its mailbox's change counter (`Mailbox.change_seq`);
delta rounds are ranges of that counter, read through the (folder, seq) index, so a
round over 10,000 contacts costs one indexed range scan per page.
"""

from __future__ import annotations

import uuid

from django.db import models

from . import ids


class DeltaExpiry(models.TextChoices):
    """How the sandbox answers a request on a delta token while expiry is simulated."""

    OFF = "off", "Off"
    GONE = "410", "410 Gone"
    SYNC_STATE_NOT_FOUND = "syncStateNotFound", "400 syncStateNotFound"


class Mailbox(models.Model):
    """A provisioned mailbox (`/users/{email}`) and its per-mailbox simulation knobs.

    A knob left empty (null) takes the global default from settings
    (see `exchange_sync.sandbox.knobs`).
    """

    email = models.EmailField(unique=True)
    display_name = models.CharField(max_length=200, blank=True)
    user_id = models.UUIDField(unique=True)
    # The id of the mailbox's default Contacts folder: parent of every folder created.
    root_folder_id = models.CharField(max_length=100)
    change_seq = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    latency_ms = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: global default.")
    is_throttled = models.BooleanField(
        null=True, blank=True, verbose_name="throttle", help_text="Outlook limits on. Empty: global default."
    )
    transient_error_rate = models.FloatField(null=True, blank=True, help_text="0..1. Empty: global default.")
    lost_create_rate = models.FloatField(null=True, blank=True, help_text="0..1. Empty: global default.")
    delta_expiry = models.CharField(
        max_length=20, choices=DeltaExpiry.choices, blank=True, help_text="Empty: global default."
    )
    is_access_denied = models.BooleanField(
        default=False, verbose_name="access denied", help_text="Every Graph call on this mailbox answers 403."
    )
    # Change-notification knobs (see `subscriptions` and `delivery`); they apply to the
    # notifications of every subscription on the mailbox, including ones made later.
    notification_drop_rate = models.FloatField(
        default=0.0, help_text="0..1: share of change notifications never sent (no retry, no 'missed')."
    )
    notification_duplicate_rate = models.FloatField(
        default=0.0, help_text="0..1: share of change notifications sent twice."
    )
    notification_delay_seconds = models.FloatField(
        default=0.0, help_text="Seconds every change notification waits before its first attempt."
    )
    is_notification_reordered = models.BooleanField(
        default=False,
        verbose_name="reorder notifications",
        help_text="Hold change notifications briefly and send each held group newest first.",
    )
    # The user behind the mailbox, for delegated sign-in (see `delegated`): a disabled
    # account cannot sign in or refresh (AADSTS50057); refresh tokens issued before
    # `tokens_valid_from` (a password reset) are refused (AADSTS50173).
    is_sign_in_blocked = models.BooleanField(
        default=False, verbose_name="account disabled", help_text="The user cannot sign in or refresh tokens."
    )
    tokens_valid_from = models.DateTimeField(
        null=True, blank=True, help_text="Refresh tokens issued before this (a password reset) are refused."
    )
    # New on every knob change: the serving process, which keeps the throttle window and
    # the random sequence in memory, starts both afresh when it sees another value.
    knobs_version = models.UUIDField(default=uuid.uuid4, editable=False)

    class Meta:
        ordering = ["email"]
        verbose_name_plural = "mailboxes"

    def __str__(self) -> str:
        return self.email


class Folder(models.Model):
    """A contact folder (`contactFolder`): directly under the mailbox's default Contacts
    folder (`parent` empty), or a child folder of another one.

    The default Contacts folder itself (`/users/{u}/contacts`) is the row whose
    `graph_id` is `Mailbox.root_folder_id`, made the first time it is used. Deleted
    Items is the row whose `well_known_name` is "deleteditems" (see `services.deleted_items_folder`):
    a mail folder that Graph still serves as `/contactFolders/{id}`, never listed among them.
    """

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="folders")
    parent = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="children")
    graph_id = models.CharField(max_length=100, unique=True)
    display_name = models.CharField(max_length=255)
    # Its single-value extended properties, {canonical property id: value}: a folder
    # has few, and Graph only reads them back by id ($expand), never searches them here.
    extended = models.JSONField(default=dict, blank=True)
    well_known_name = models.CharField(max_length=40, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.display_name


def immutable_id_new() -> str:
    """A fresh immutable id: every contact row has one, however it was made."""
    return ids.new_id(ids.IMMUTABLE)


class Contact(models.Model):
    """A contact in a folder. Deleted contacts stay as tombstones so delta reports them.

    `data` holds the writable Graph properties as Graph spells them. Outlook gives an
    item two ids (https://learn.microsoft.com/graph/outlook-immutable-id): `graph_id`,
    the regular id, which changes when the item moves to another folder, and
    `immutable_id`, which stays while the item stays in the mailbox. A move therefore
    leaves a tombstone in the source folder (its delta reports the item removed, under
    the id the client asks for) and a new row in the target folder with a new
    `graph_id` and the same `immutable_id`: only one row of an immutable id is live.
    """

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="+")
    folder = models.ForeignKey(Folder, on_delete=models.CASCADE, related_name="contacts")
    graph_id = models.CharField(max_length=100, unique=True)
    immutable_id = models.CharField(max_length=100, db_index=True, default=immutable_id_new)
    change_key = models.CharField(max_length=40)
    seq = models.BigIntegerField()
    is_deleted = models.BooleanField(default=False)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    modified_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["folder", "seq"], name="sbx_contact_folder_seq"),
            models.Index(fields=["folder", "is_deleted", "id"], name="sbx_contact_folder_live"),
        ]

    def __str__(self) -> str:
        return self.data.get("displayName") or self.graph_id


class ExtendedProperty(models.Model):
    """A single-value extended property of a contact.

    `property_id` is canonical (`String {lower-case guid} Name <Name>`); `value_folded`
    is the case-folded value, because Exchange compares string values case-insensitively.
    """

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="extended_properties")
    folder = models.ForeignKey(Folder, on_delete=models.CASCADE, related_name="+")
    property_id = models.CharField(max_length=300)
    value = models.TextField()
    value_folded = models.CharField(max_length=255)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "property_id"], name="sbx_ep_unique")]
        indexes = [models.Index(fields=["folder", "property_id", "value_folded"], name="sbx_ep_lookup")]

    def __str__(self) -> str:
        return f"{self.property_id} = {self.value}"


class ContactEmail(models.Model):
    """An e-mail address of a contact, case-folded, for `emailAddresses/any(...)` filters."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="email_index")
    folder = models.ForeignKey(Folder, on_delete=models.CASCADE, related_name="+")
    address_folded = models.CharField(max_length=320)

    class Meta:
        indexes = [models.Index(fields=["folder", "address_folded"], name="sbx_email_lookup")]

    def __str__(self) -> str:
        return self.address_folded


class ValueCopies(models.Model):
    """The most live contacts of a folder that ever held one extended property value at
    the same moment (a stamp's copies), noted whenever a contact gets the value.

    For tests that check "never two copies of one contact at any moment": a copy created
    and cleaned up later still leaves `most` at 2. Nothing in the sandbox reads it.
    """

    folder = models.ForeignKey(Folder, on_delete=models.CASCADE, related_name="+")
    property_id = models.CharField(max_length=300)
    value_folded = models.CharField(max_length=255)
    most = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["folder", "property_id", "value_folded"], name="sbx_copies_unique")
        ]
        verbose_name_plural = "value copies"

    def __str__(self) -> str:
        return f"{self.property_id} = {self.value_folded}: {self.most}"


class Subscription(models.Model):
    """A change-notification subscription (`/subscriptions/{id}`) on a mailbox's contacts:
    of one folder (`folder`), or of every contact folder (`folder` empty: the resource
    `users/{u}/contacts`). Expired rows are never served and are deleted when next seen.
    """

    graph_id = models.UUIDField(unique=True, default=uuid.uuid4)
    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="subscriptions")
    folder = models.ForeignKey(Folder, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    resource = models.CharField(max_length=500)
    change_type = models.CharField(max_length=40)
    notification_url = models.URLField(max_length=2000)
    lifecycle_notification_url = models.URLField(max_length=2000, blank=True)
    client_state = models.CharField(max_length=128, blank=True, null=True)
    expires_at = models.DateTimeField()
    latest_supported_tls_version = models.CharField(max_length=10, default="v1_2")
    # Notifications name contacts by the id kind the creating request asked for
    # (https://learn.microsoft.com/graph/outlook-immutable-id).
    is_immutable_id = models.BooleanField(default=False)
    application_id = models.CharField(max_length=100, blank=True)
    tenant_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.graph_id} on {self.resource}"


class AppCertificate(models.Model):
    """A certificate uploaded to an app registration ("Certificates & secrets" in Entra ID).

    The token endpoint accepts a client assertion from the app only when its `x5t`
    (SHA-1) or `x5t#S256` (SHA-256) header names one of the app's certificates and the
    assertion verifies with that certificate's public key (see `assertions`).
    """

    client_id = models.CharField(max_length=100)
    certificate_pem = models.TextField()
    thumbprint_sha1 = models.CharField(max_length=40)  # upper-case hex, as Entra shows it
    thumbprint_sha256 = models.CharField(max_length=64)  # lower-case hex
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["client_id", "created_at"]
        constraints = [
            models.UniqueConstraint(fields=["client_id", "thumbprint_sha1"], name="sbx_app_cert_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.client_id}: {self.thumbprint_sha1}"


class MailboxScopeDenial(models.Model):
    """An app that Exchange Online keeps out of a mailbox (RBAC for Applications, or an
    application access policy): every Graph request of that app on the mailbox answers
    403 (see `scoping`). Other apps, and other mailboxes, are not affected."""

    client_id = models.CharField(max_length=100)
    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client_id", "mailbox"], name="sbx_scope_denial_unique")]

    def __str__(self) -> str:
        return f"{self.client_id} may not open {self.mailbox}"


class DelegatedConsent(models.Model):
    """A user's consent to an app's delegated permissions, given on the sandbox's
    `/authorize` page (Entra ID: "Enterprise applications > Permissions > User consent").
    Revoking it makes the user's refresh tokens for the app answer AADSTS65001."""

    client_id = models.CharField(max_length=100)
    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="+")
    scopes = models.CharField(max_length=500)
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client_id", "mailbox"], name="sbx_consent_unique")]

    def __str__(self) -> str:
        return f"{self.mailbox} consented to {self.client_id}"


class AuthorizationCode(models.Model):
    """A code `/authorize` handed back to the app: single-use, short-lived, bound to its
    redirect URI and PKCE challenge. Only its SHA-256 is stored."""

    code_hash = models.CharField(max_length=64, unique=True)
    client_id = models.CharField(max_length=100)
    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="+")
    redirect_uri = models.TextField()
    code_challenge = models.CharField(max_length=128)
    scopes = models.CharField(max_length=500)
    nonce = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField()
    redeemed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"code for {self.mailbox} to {self.client_id}"


class RefreshToken(models.Model):
    """A delegated refresh token (only its SHA-256 is stored). Each refresh hands out a
    new one; `expires_at` is the inactivity limit the `expire` knob moves to the past."""

    token_hash = models.CharField(max_length=64, unique=True)
    client_id = models.CharField(max_length=100)
    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="+")
    scopes = models.CharField(max_length=500)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"refresh token of {self.mailbox} for {self.client_id}"
