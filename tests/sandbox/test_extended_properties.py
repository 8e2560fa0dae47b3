"""The contact-number stamp: a string single-value extended property, set, read and found."""

from __future__ import annotations

PROPERTY = "String {0ECADC8A-1C4B-4A4B-9C25-0A9F1B2C3D4E} Name BcContactNo"
CANONICAL = "String {0ecadc8a-1c4b-4a4b-9c25-0a9f1b2c3d4e} Name BcContactNo"
EXPAND = f"singleValueExtendedProperties($filter=id eq '{PROPERTY}')"


def _find(value: str, property_id: str = PROPERTY) -> str:
    return f"singleValueExtendedProperties/Any(ep: ep/id eq '{property_id}' and ep/value eq '{value}')"


def _stamped(graph, folder: str, number: str) -> dict:
    return graph.contact(folder, singleValueExtendedProperties=[{"id": PROPERTY, "value": number}])


def test_it_does_not_echo_the_stamp_unless_expanded(graph):
    folder = graph.folder()
    created = _stamped(graph, folder, "CT000123")
    assert "singleValueExtendedProperties" not in created
    body = graph.get(f"{graph.contact_path(folder, created['id'])}", params={"$expand": EXPAND}).json()
    assert body["singleValueExtendedProperties"] == [{"id": CANONICAL, "value": "CT000123"}]


def test_it_finds_a_contact_by_stamp_with_a_case_insensitive_value(graph):
    folder = graph.folder()
    wanted = _stamped(graph, folder, "CT000123")
    _stamped(graph, folder, "CT000124")
    graph.contact(folder)
    body = graph.get(graph.contacts_path(folder), params={"$filter": _find("ct000123"), "$expand": EXPAND}).json()
    assert [c["id"] for c in body["value"]] == [wanted["id"]]
    assert body["value"][0]["singleValueExtendedProperties"][0]["value"] == "CT000123"


def test_it_matches_the_property_name_case_sensitively(graph):
    folder = graph.folder()
    _stamped(graph, folder, "CT000123")
    other_name = PROPERTY.replace("BcContactNo", "bccontactno")
    assert (
        graph.get(graph.contacts_path(folder), params={"$filter": _find("CT000123", other_name)}).json()["value"] == []
    )


def test_it_finds_a_stamp_only_in_the_folder_asked(graph):
    first, second = graph.folder("One"), graph.folder("Two")
    _stamped(graph, first, "CT000123")
    assert graph.get(graph.contacts_path(second), params={"$filter": _find("CT000123")}).json()["value"] == []


def test_it_restamps_with_patch(graph):
    folder = graph.folder()
    created = _stamped(graph, folder, "CT000123")
    path = f"{graph.contact_path(folder, created['id'])}"
    graph.patch(path, {"singleValueExtendedProperties": [{"id": PROPERTY, "value": "CT000999"}]})
    body = graph.get(path, params={"$expand": EXPAND}).json()
    assert body["singleValueExtendedProperties"][0]["value"] == "CT000999"
    assert graph.get(graph.contacts_path(folder), params={"$filter": _find("CT000123")}).json()["value"] == []


def test_it_omits_the_expanded_property_on_an_unstamped_contact(graph):
    folder = graph.folder()
    created = graph.contact(folder)
    body = graph.get(f"{graph.contact_path(folder, created['id'])}", params={"$expand": EXPAND}).json()
    assert "singleValueExtendedProperties" not in body


def test_it_refuses_a_filter_outlook_does_not_support(graph):
    folder = graph.folder()
    response = graph.get(graph.contacts_path(folder), params={"$filter": "startswith(surname,'L')"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "ErrorInvalidUrlQueryFilter"


def test_it_refuses_a_malformed_property_id(graph):
    folder = graph.folder()
    response = graph.get(graph.contacts_path(folder), params={"$filter": _find("x", "String BcContactNo")})
    assert response.status_code == 400
