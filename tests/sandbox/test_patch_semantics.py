"""The sandbox's PATCH is Graph's (https://learn.microsoft.com/graph/api/contact-update):
only the properties named change, a list named replaces the whole list, properties
bcsync does not map are stored and returned, and other apps' extended properties stay
when one is set. bcsync's merge of the person's lists relies on exactly this."""

from __future__ import annotations

OURS = "String {0f45d569-41fc-4de0-ac45-db55ad04fd7d} Name BcContactNo"
THEIRS = "String {6a1f3c52-9d0e-4b7a-8e21-5c4d3b2a1f00} Name CrmRating"
PERSONAL = {
    "personalNotes": "Met at the fair",
    "birthday": "1980-05-04T00:00:00Z",
    "homePhones": ["+33 4 11"],
    "homeAddress": {"street": "1 Rue Home", "city": "Lyon"},
    "otherAddress": {"city": "Annecy"},
    "nickName": "Riri",
    "department": "Purchasing",
    "categories": ["VIP"],
}


def _expand(property_id: str) -> dict[str, str]:
    return {"$expand": f"singleValueExtendedProperties($filter=id eq '{property_id}')"}


def test_a_patch_changes_only_the_properties_it_names_and_keeps_unmapped_ones(graph):
    folder = graph.folder()
    created = graph.contact(
        folder,
        emailAddresses=[{"address": "a@x.example"}, {"address": "b@x.example"}, {"address": "c@x.example"}],
        businessPhones=["1", "2"],
        **PERSONAL,
    )
    path = graph.contact_path(folder, created["id"])
    body = graph.patch(path, {"displayName": "Ann Lee", "jobTitle": "Buyer"}).json()
    assert body["jobTitle"] == "Buyer"
    assert [e["address"] for e in body["emailAddresses"]] == ["a@x.example", "b@x.example", "c@x.example"]
    assert body["businessPhones"] == ["1", "2"]
    for name, value in PERSONAL.items():
        assert body[name] == value, name
    assert graph.get(path).json() | {"@odata.context": ""} == body | {"@odata.context": ""}


def test_a_list_named_in_a_patch_replaces_the_whole_list(graph):
    folder = graph.folder()
    created = graph.contact(folder, businessPhones=["1", "2"], categories=["VIP", "Golf"])
    path = graph.contact_path(folder, created["id"])
    body = graph.patch(path, {"businessPhones": ["9"], "categories": ["Business Central"]}).json()
    assert (body["businessPhones"], body["categories"]) == (["9"], ["Business Central"])


def test_setting_one_extended_property_keeps_another_apps(graph):
    folder = graph.folder()
    created = graph.contact(folder, singleValueExtendedProperties=[{"id": THEIRS, "value": "5 stars"}])
    path = graph.contact_path(folder, created["id"])
    graph.patch(path, {"singleValueExtendedProperties": [{"id": OURS, "value": "CT000001"}]})
    theirs = graph.get(path, params=_expand(THEIRS)).json()["singleValueExtendedProperties"]
    ours = graph.get(path, params=_expand(OURS)).json()["singleValueExtendedProperties"]
    assert (theirs, ours) == ([{"id": THEIRS, "value": "5 stars"}], [{"id": OURS, "value": "CT000001"}])
