"""Routes of the Graph sandbox, mounted at /graph-sandbox/ when settings.GRAPH_SANDBOX is on."""

from django.urls import path

from . import views_authorize, views_graph, views_identity, views_outlook

app_name = "graph_sandbox"

urlpatterns = [
    path("outlook/", views_outlook.outlook_page, name="outlook"),
    path("v1.0/<path:path>", views_graph.graph_endpoint, name="graph"),
    path("<str:tenant>/v2.0/.well-known/openid-configuration", views_identity.openid_configuration, name="openid"),
    path("<str:tenant>/oauth2/v2.0/authorize", views_authorize.authorize, name="authorize"),
    path("<str:tenant>/oauth2/v2.0/token", views_identity.token, name="token"),
    path("<str:tenant>/discovery/instance", views_identity.instance_discovery, name="instance_discovery"),
]
