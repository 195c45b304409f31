"""The event catalog: schemas are valid Draft 2020-12, examples pass, missing fields are caught."""
import copy

import pytest
from jsonschema import Draft202012Validator

from webhooks import catalog, validation

ALL_TYPES = sorted(catalog.BY_TYPE)


def required_paths(schema, prefix=()):
    """Yield the path (keys, 0 for array items) of every required field of a schema."""
    for name, sub in schema.get("properties", {}).items():
        path = (*prefix, name)
        if name in schema.get("required", ()):
            yield path
        if "properties" in sub:
            yield from required_paths(sub, path)
        elif "properties" in sub.get("items", {}):
            yield from required_paths(sub["items"], (*path, 0))


def without(document, path):
    """Return a deep copy of document with the field at path removed."""
    copied = copy.deepcopy(document)
    parent = copied
    for part in path[:-1]:
        parent = parent[part]
    del parent[path[-1]]
    return copied


CASES = [(t, path) for t in ALL_TYPES for path in required_paths(catalog.BY_TYPE[t].schema)]


@pytest.mark.parametrize("event_type", ALL_TYPES)
def test_schema_is_valid_draft_2020_12(event_type):
    schema = catalog.BY_TYPE[event_type].schema
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("event_type", ALL_TYPES)
def test_example_passes_its_own_schema(event_type):
    assert validation.validate_data(event_type, catalog.BY_TYPE[event_type].example) == []


@pytest.mark.parametrize(("event_type", "path"), CASES, ids=[f"{t}:{'.'.join(map(str, p))}" for t, p in CASES])
def test_schema_rejects_payload_missing_a_required_field(event_type, path):
    broken = without(catalog.BY_TYPE[event_type].example, path)
    errors = validation.validate_data(event_type, broken)
    assert {"path": validation.json_path(path, "data"), "message": "is required."} in errors


def test_every_type_requires_fields_integrators_depend_on():
    job = catalog.BY_TYPE["job.created"].schema["properties"]["job"]
    assert {"id", "number", "name", "status", "customer", "address", "assigned_user",
            "created_at", "updated_at"} <= set(job["required"])
    estimate = catalog.BY_TYPE["estimate.updated"].schema["properties"]["estimate"]
    assert {"id", "job_id", "currency", "subtotal", "tax", "total"} <= set(estimate["required"])
    assert "previous_assigned_user" in catalog.BY_TYPE["job.assigned"].schema["required"]
    assert "previous_status" in catalog.BY_TYPE["job.status_changed"].schema["required"]


@pytest.mark.parametrize("amount", [12.5, 1250, "12.5.0", "1,250.00", "$10.00", "01.00", "1e3", ""])
def test_money_must_be_a_decimal_string(amount):
    data = copy.deepcopy(catalog.BY_TYPE["estimate.created"].example)
    data["estimate"]["total"] = amount
    errors = validation.validate_data("estimate.created", data)
    assert [e["path"] for e in errors] == ["data.estimate.total"]


@pytest.mark.parametrize("amount", ["0.00", "13423.00", "-5.00", "1500", "0.125"])
def test_money_accepts_fixed_decimals(amount):
    data = copy.deepcopy(catalog.BY_TYPE["estimate.created"].example)
    data["estimate"]["total"] = amount
    assert validation.validate_data("estimate.created", data) == []


@pytest.mark.parametrize("moment", ["2026-11-28 10:00:00Z", "2026-11-28T10:00:00", "2026-02-30T10:00:00Z",
                                    "2026-11-28T25:00:00Z", "yesterday", "2026-11-28"])
def test_timestamps_must_be_rfc3339_with_a_zone(moment):
    data = copy.deepcopy(catalog.BY_TYPE["job.created"].example)
    data["job"]["updated_at"] = moment
    errors = validation.validate_data("job.created", data)
    assert [e["path"] for e in errors] == ["data.job.updated_at"]
    assert "RFC 3339" in errors[0]["message"]


@pytest.mark.parametrize("moment", ["2026-11-28T10:00:00Z", "2026-11-28T10:00:00.123456+05:30",
                                    "2026-11-28t10:00:00z"])
def test_timestamps_accept_rfc3339(moment):
    data = copy.deepcopy(catalog.BY_TYPE["job.created"].example)
    data["job"]["updated_at"] = moment
    assert validation.validate_data("job.created", data) == []


def test_fixed_shapes_refuse_unknown_fields_and_resources_may_grow():
    data = copy.deepcopy(catalog.BY_TYPE["job.created"].example)
    data["job"]["priority"] = "high"  # a resource may gain fields
    assert validation.validate_data("job.created", data) == []
    data["job"]["address"]["county"] = "Multnomah"  # an address has a fixed shape
    data["extra"] = 1  # so has the data object
    errors = validation.validate_data("job.created", data)
    assert [e["path"] for e in errors] == ["data.extra", "data.job.address.county"]


def test_nullable_fields_accept_null_but_not_absence():
    data = copy.deepcopy(catalog.BY_TYPE["job.assigned"].example)
    data["previous_assigned_user"] = None
    data["job"]["assigned_user"] = None
    assert validation.validate_data("job.assigned", data) == []


def test_every_problem_is_listed_with_its_path():
    data = {"job": {"id": 42, "number": "J-1", "name": "x", "status": "new",
                    "customer": {"name": "A", "email": "not-an-email", "phone": None},
                    "address": None, "assigned_user": None,
                    "created_at": "2026-11-28T10:00:00Z", "updated_at": "later"}}
    errors = validation.validate_data("job.created", data)
    assert errors == [
        {"path": "data.job.customer.email", "message": "must be an email address; got 'not-an-email'."},
        {"path": "data.job.id", "message": "must be of type string, not integer."},
        {"path": "data.job.updated_at",
         "message": "must be an RFC 3339 date-time with a zone, e.g. 2026-11-28T10:00:00Z; got 'later'."},
    ]


def test_array_items_have_indexed_paths():
    data = copy.deepcopy(catalog.BY_TYPE["signed_document.signed"].example)
    data["signed_document"]["signers"][1]["signed_at"] = None
    errors = validation.validate_data("signed_document.signed", data)
    assert [e["path"] for e in errors] == ["data.signed_document.signers[1].signed_at"]


def test_urls_must_be_web_urls():
    data = copy.deepcopy(catalog.BY_TYPE["job.image_created"].example)
    data["image"]["url"] = "file:///etc/passwd"
    data["image"]["content_type"] = "application/pdf"
    errors = validation.validate_data("job.image_created", data)
    assert [e["path"] for e in errors] == ["data.image.content_type", "data.image.url"]


def test_by_kind_lists_every_subscribable_type_once_in_catalog_order():
    grouped = catalog.by_kind()
    assert [kind for kind, _ in grouped] == list(catalog.KINDS)
    assert [t.type for _, types in grouped for t in types] == list(catalog.SUBSCRIBABLE)
    assert catalog.PING.type not in catalog.SUBSCRIBABLE
    assert catalog.title_of("job.status_changed") == "Job Status Changed"
    assert catalog.title_of("something.else") == "something.else"


def test_as_json_publishes_schema_and_example_of_every_type():
    published = catalog.as_json()["event_types"]
    assert [t["type"] for t in published] == [*catalog.SUBSCRIBABLE, "webhook.ping"]
    for entry in published:
        assert set(entry) >= {"type", "kind", "label", "description", "schema", "example"}
        Draft202012Validator(entry["schema"], format_checker=validation.FORMAT_CHECKER).validate(entry["example"])


def test_fields_describe_every_property_for_the_reference_page():
    rows = catalog.fields(catalog.BY_TYPE["signed_document.signed"].schema)
    by_name = {name: (kind, required) for name, kind, required, _ in rows}
    assert by_name["signed_document.signers"] == ("array of object", True)
    assert by_name["signed_document.signers[].email"] == ("string (email) or null", True)
    assert by_name["signed_document.signed_at"] == ("string (date-time)", True)
    assert all(description for *_, description in rows)
