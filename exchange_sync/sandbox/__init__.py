"""Graph sandbox: a Microsoft Graph v1.0 contacts service served by this project.

It is Graph, met only over HTTP: it imports no product code. Mounted at `/graph-sandbox/`
when settings.GRAPH_SANDBOX is on.

Identity (msal client credentials, any tenant not in GRAPH_SANDBOX_UNKNOWN_TENANTS):
`{tenant}/v2.0/.well-known/openid-configuration`, `{tenant}/oauth2/v2.0/token`,
`{tenant}/discovery/instance`; endpoints are advertised on https://login.microsoftonline.com.

Graph (`v1.0/`, bearer token from the identity endpoint): `users/{email}`,
`.../contactFolders[/{id}]`, `.../contactFolders/{id}/contacts[/{id}]`,
`.../contacts/delta`, `$batch`. Module map: `views_identity`/`auth` (tokens),
`views_graph` (HTTP), `graph` (dispatch and simulated conditions), `operations`
(the endpoints), `batch`, `odata` (query options), `shapes` (JSON), `services` (writes,
also the Python API for tests: `mailbox_add`, `mailbox_configure`, `mailbox_reset`),
`knobs` and `throttle` (simulation), `views_outlook` (the "Outlook (sandbox)" page).
"""
