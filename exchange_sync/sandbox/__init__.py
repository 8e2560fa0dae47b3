"""Graph sandbox: a Microsoft Graph v1.0 contacts service served by this project.

It is Graph, met only over HTTP: it imports no product code. Mounted at `/graph-sandbox/`
when settings.GRAPH_SANDBOX is on.

Identity (msal client credentials, any tenant not in GRAPH_SANDBOX_UNKNOWN_TENANTS):
`{tenant}/v2.0/.well-known/openid-configuration`, `{tenant}/oauth2/v2.0/token`,
`{tenant}/discovery/instance`; endpoints are advertised on https://login.microsoftonline.com.

The token endpoint takes the client secret, or a client assertion signed by a
certificate registered for the app (`assertions`; `manage.py sandbox_app
add-certificate`). Mailbox scoping (`scoping`; `manage.py sandbox_app deny-mailbox`)
keeps an app out of chosen mailboxes with Exchange Online's 403.

Graph (`v1.0/`, bearer token from the identity endpoint): `users/{email}`,
`.../contactFolders[/{id}]`, `.../contactFolders/{id}/childFolders`,
`.../contactFolders/{id}/contacts[/{id}]`, `.../contactFolders/{id}/contacts/delta`, the
default Contacts folder `.../contacts[/{id}]` and `.../contacts/delta` (a contact id
there names a contact of any folder), Deleted Items as `.../contactFolders/deleteditems`
(or its id; never listed), `$batch`, `subscriptions[/{id}]`. Contacts have a regular id, which changes when
they move, and an immutable id, which does not: each response renders the kind its
request asks for (`Prefer: IdType="ImmutableId"`; see `operations`). Not served: `contactFolders/delta` (bcsync
does not use it), `$search`, other Outlook resources. Module map: `views_identity`/`auth`
(tokens), `views_graph` (HTTP), `graph` (dispatch, simulated conditions, unknown
segments), `operations` (the endpoints), `listing` (paging, `$skip`, `$orderby`,
`$count`), `batch`, `odata` (query options and their refusals), `shapes` (JSON), `services` (writes,
also the Python API for tests: `mailbox_add`, `mailbox_configure`, `mailbox_reset`,
and a person's moves: `contact_move`, `contact_to_deleted_items`, `contact_delete`),
`knobs` and `throttle` (simulation), `clock` (time, replaceable in tests), `views_outlook`
(the "Outlook (sandbox)" page); change notifications: `subscriptions` (`/subscriptions`,
also in `$batch`, and the knobs that expire or remove one or send a lifecycle event),
`handshake` (the validation of a notificationUrl), `notifications` (what a contact change
or a lifecycle event sends, with the drop / duplicate / delay / reorder knobs) and
`delivery` (the background sender and its retries). For tests only, nothing in the sandbox reads them:
`served` (HTTP requests served per mailbox) and `models.ValueCopies` (the most copies
of one extended property value a folder ever held at once: a stamp's duplicates).

State: mailboxes, folders, contacts and knobs live in the database, shared by every
process. The throttle counts (requests in the window, requests in flight) and the seeded
random sequences live in the memory of the one process serving Graph (runserver,
live_server): a knob change from another process (`sandbox_mailbox set`, the admin)
cannot clear them itself; it writes a new `Mailbox.knobs_version` and the server starts
that mailbox's window and sequence afresh at its next request on it. Several serving
processes would each count on their own; a restart forgets the counts.
"""
