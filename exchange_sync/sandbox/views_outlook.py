"""The "Outlook (sandbox)" page: a person's view of a sandbox mailbox.

Choose a mailbox and a folder, see the contacts, create and edit one, move it to another
folder, delete it (as in Outlook: it moves to Deleted Items, and its regular id
changes) or delete it permanently, so the Outlook side of a sync can be watched and
changed. Changes go through the same services as the Graph endpoints, so a sync sees
them in its next delta round. Staff only (through
`admin_view`); viewing needs `graph_sandbox.view_mailbox`, changing `graph_sandbox.change_mailbox`.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from . import services
from .errors import GraphError
from .forms import ContactForm
from .models import Contact, Folder, Mailbox

PAGE_SIZE = 200


def _page_url(mailbox: Mailbox | None, folder: Folder | None, **extra: str) -> str:
    params = {"mailbox": mailbox.email} if mailbox else {}
    if folder:
        params["folder"] = str(folder.pk)
    return f"{reverse('graph_sandbox:outlook')}?{urlencode({**params, **extra})}"


def _outlook_page(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("graph_sandbox.view_mailbox"):
        raise PermissionDenied
    source = request.POST if request.method == "POST" else request.GET
    mailboxes = list(Mailbox.objects.all())
    mailbox = next((m for m in mailboxes if m.email == source.get("mailbox")), mailboxes[0] if mailboxes else None)
    live = Count("contacts", filter=Q(contacts__is_deleted=False))
    folders = list(mailbox.folders.annotate(live_count=live)) if mailbox else []
    folder = next((f for f in folders if str(f.pk) == source.get("folder")), folders[0] if folders else None)
    contacts = (
        Contact.objects.filter(folder=folder, is_deleted=False).order_by("pk") if folder else Contact.objects.none()
    )
    editing = contacts.filter(pk=source.get("contact") or 0).first() if source.get("contact") else None

    form = ContactForm.for_contact(editing) if editing else ContactForm()
    if request.method == "POST":
        if not request.user.has_perm("graph_sandbox.change_mailbox"):
            raise PermissionDenied
        if folder is None:
            messages.error(request, "Choose a mailbox with a folder first.")
            return HttpResponseRedirect(_page_url(mailbox, folder))
        form = ContactForm(request.POST)
        action = request.POST.get("action")
        try:
            if action == "delete" and editing:
                services.contact_to_deleted_items(editing.pk)
                messages.success(request, f"Moved {editing} to Deleted Items.")
                return HttpResponseRedirect(_page_url(mailbox, folder))
            if action == "delete_permanently" and editing:
                services.contact_delete(editing.pk)
                messages.success(request, f"Deleted {editing} permanently.")
                return HttpResponseRedirect(_page_url(mailbox, folder))
            target = next((f for f in folders if str(f.pk) == request.POST.get("to_folder")), None)
            if action == "move" and editing and target:
                services.contact_move(editing.pk, target)
                messages.success(request, f"Moved {editing} to {target}.")
                return HttpResponseRedirect(_page_url(mailbox, folder))
            if action in ("create", "update") and form.is_valid():
                if action == "update" and editing:
                    contact = services.contact_update(editing.pk, form.graph_properties(editing.data))
                else:
                    contact = services.contact_create(folder, form.graph_properties())
                messages.success(request, f"Saved {contact}.")
                return HttpResponseRedirect(_page_url(mailbox, folder))
        except GraphError as error:
            messages.error(request, error.message)

    context = {
        **admin.site.each_context(request),
        "title": "Outlook (sandbox)",
        "mailboxes": mailboxes,
        "mailbox": mailbox,
        "folders": folders,
        "folder": folder,
        "contacts": contacts[:PAGE_SIZE],
        "contact_count": contacts.count(),
        "editing": editing,
        "form": form,
        "can_change": request.user.has_perm("graph_sandbox.change_mailbox"),
    }
    return TemplateResponse(request, "graph_sandbox/outlook.html", context)


outlook_page = admin.site.admin_view(_outlook_page)
