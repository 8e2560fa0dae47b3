"""$skip, $orderby and $count as Graph honours them on contact lists, and Graph's
refusals of the query options and paths it does not take."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.sandbox.conftest import MAILBOX


def _names(body: dict) -> list[str]:
    return [c["surname"] for c in body["value"]]


def test_its_next_links_page_contacts_with_skip_and_keep_the_query(graph):
    folder = graph.folder()
    for name in ("a", "b", "c", "d", "e"):
        graph.contact(folder, surname=name)
    first = graph.get(graph.contacts_path(folder), params={"$top": "2", "$select": "surname"}).json()
    query = parse_qs(urlsplit(first["@odata.nextLink"]).query)
    assert query == {"$top": ["2"], "$select": ["surname"], "$skip": ["2"]}
    second = graph.get(first["@odata.nextLink"]).json()
    third = graph.get(second["@odata.nextLink"]).json()
    assert [_names(first), _names(second), _names(third)] == [["a", "b"], ["c", "d"], ["e"]]
    assert "@odata.nextLink" not in third


def test_a_client_paging_with_skip_reaches_the_end(graph):
    folder = graph.folder()
    for name in ("a", "b", "c"):
        graph.contact(folder, surname=name)
    seen = []
    for skip in range(0, 10, 2):  # bounded: a sandbox ignoring $skip would serve page one forever
        body = graph.get(graph.contacts_path(folder), params={"$top": "2", "$skip": str(skip)}).json()
        if not body["value"]:
            break
        seen += _names(body)
    assert seen == ["a", "b", "c"]


def test_it_orders_contacts_by_a_property_either_way(graph):
    folder = graph.folder()
    for name in ("beta", "Alpha", "gamma"):
        graph.contact(folder, surname=name)
    path = graph.contacts_path(folder)
    assert _names(graph.get(path, params={"$orderby": "surname"}).json()) == ["Alpha", "beta", "gamma"]
    assert _names(graph.get(path, params={"$orderby": "surname desc"}).json()) == ["gamma", "beta", "Alpha"]
    by_creation = graph.get(path, params={"$orderby": "createdDateTime desc,surname asc"}).json()
    assert len(by_creation["value"]) == 3


def test_it_counts_the_whole_filtered_collection(graph):
    folder = graph.folder()
    for index in range(3):
        graph.contact(folder, emailAddresses=[{"address": f"p{index}@x.example"}])
    graph.contact(folder, emailAddresses=[{"address": "p0@x.example"}])
    body = graph.get(
        graph.contacts_path(folder),
        params={"$count": "true", "$top": "1", "$filter": "emailAddresses/any(a:a/address eq 'p0@x.example')"},
    ).json()
    assert body["@odata.count"] == 2
    assert len(body["value"]) == 1
    assert "@odata.count" not in graph.get(graph.contacts_path(folder)).json()


def test_folders_page_with_skip_and_count_too(graph):
    for name in ("A", "B", "C"):
        graph.folder(name)
    body = graph.get(f"/users/{MAILBOX}/contactFolders", params={"$top": "2", "$count": "true"}).json()
    assert body["@odata.count"] == 3
    assert "$skip=2" in body["@odata.nextLink"]
    assert [f["displayName"] for f in graph.get(body["@odata.nextLink"]).json()["value"]] == ["C"]


@pytest.mark.parametrize(
    ("params", "code", "message"),
    [
        (
            {"$skip": "-1"},
            "BadRequest",
            "Invalid value '-1' for $skip query option found. The $skip query option requires a non-negative "
            "integer value.",
        ),
        ({"$count": "yes"}, "BadRequest", "'yes' is not a valid count option."),
        (
            {"$orderby": "nickname"},
            "BadRequest",
            "Could not find a property named 'nickname' on type 'microsoft.graph.contact'.",
        ),
        ({"$orderby": "surname sideways"}, "BadRequest", "Syntax error at position 16 in 'surname sideways'."),
        ({"$apply": "x"}, "BadRequest", "The query parameter '$apply' is not supported."),
        (
            {"$filter": "surname eq 'Lee'"},
            "ErrorInvalidUrlQueryFilter",
            "The query filter contains one or more invalid nodes.",
        ),
        (
            {"$filter": "emailAddresses/any(a:a/name eq 'Lee')"},
            "ErrorInvalidUrlQueryFilter",
            "The query filter contains one or more invalid nodes.",
        ),
    ],
)
def test_it_refuses_contact_list_options_graph_refuses(graph, params, code, message):
    response = graph.get(graph.contacts_path(graph.folder()), params=params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"] == message


def test_it_refuses_collection_options_on_one_contact(graph):
    folder = graph.folder()
    contact = graph.contact(folder)
    response = graph.get(graph.contact_path(folder, contact["id"]), params={"$top": "1"})
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("The requested resource is not a collection.")


def test_it_does_not_pretend_to_search(graph):
    response = graph.get(graph.contacts_path(graph.folder()), params={"$search": '"Lee"'})
    assert response.status_code == 501
    assert response.json()["error"]["code"] == "NotImplemented"


@pytest.mark.parametrize(
    ("params", "refused"),
    [
        ({"$top": "5"}, "$top"),
        ({"$skip": "5"}, "$skip"),
        ({"$count": "true"}, "$count"),
        ({"$orderby": "surname", "$filter": "emailAddresses/any(a:a/address eq 'x@y')"}, "$orderby, $filter"),
    ],
)
def test_delta_refuses_every_option_but_select(graph, params, refused):
    response = graph.get(f"{graph.contacts_path(graph.folder())}/delta", params=params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "ErrorInvalidUrlQuery"
    assert error["message"] == (
        f"The following parameters are not supported with change tracking over the 'Contacts' resource: '{refused}'."
    )


@pytest.mark.parametrize(
    ("path", "segment"),
    [
        ("/users/{mailbox}/calendarz", "calendarz"),
        ("/users/{mailbox}/contactFolders/{folder}/contactz", "contactz"),
        ("/users/{mailbox}/contactFolders/{folder}/childFolders/x/y", "y"),
        ("/users/{mailbox}/contacts/{contact}/photo", "photo"),
        ("/groups", "groups"),
    ],
)
def test_unknown_paths_name_the_segment_graph_does_not_know(graph, path, segment):
    folder = graph.folder()
    contact = graph.contact(folder)
    url = path.format(mailbox=MAILBOX, folder=graph.folder_path(folder).rsplit("/", 1)[1], contact="x")
    url = url.replace("/contacts/x/", f"/contacts/{graph.contact_path(folder, contact['id']).rsplit('/', 1)[1]}/")
    response = graph.get(url)
    assert response.status_code == 400
    assert response.json()["error"] == {
        **response.json()["error"],
        "code": "BadRequest",
        "message": f"Resource not found for the segment '{segment}'.",
    }


def test_me_is_refused_to_an_app_only_token(graph):
    response = graph.get("/me/contacts")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "/me request is only valid with delegated authentication flow."
