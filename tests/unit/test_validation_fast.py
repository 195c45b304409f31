"""The compiled (fastjsonschema) check that ingest tries first must never accept what jsonschema
refuses: its "valid" skips the listing of problems, so it would let a bad event through."""
import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webhooks import catalog, ingest, validation

# Values that sit on the edges of the catalog's keywords: types, formats, lengths, minimums.
TRICKY = st.sampled_from([
    None, True, False, 0, -1, 1, 1.0, 1.5, -0.0, 2 ** 63, 10 ** 30, 1e308, "", " ", "a" * 256,
    "1", "0", "abc\n", "2026-11-28T10:00:00Z", "2026-11-28T10:00:00.123+01:00",
    "2026-11-28t10:00:00z", "2026-11-28T10:00:00", "2026-02-30T00:00:00Z",
    "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-11-28 10:00:00Z",
    "https://example.com/a", "http://example.com", "ftp://example.com", "https://", "https://a b",
    "mailto:a@example.com", "a@example.com", "a@", "@example.com", "a b@example.com", "é@ü.de",
    [], {}, [1], {"id": "1"}, "\u0000", "\ud800",
])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20) | TRICKY,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def paths(document, prefix=()):
    """Yield the path of every value inside document (keys and list indexes)."""
    items = document.items() if isinstance(document, dict) else (
        enumerate(document) if isinstance(document, list) else ())
    for key, value in items:
        yield (*prefix, key)
        yield from paths(value, (*prefix, key))


@st.composite
def mutated(draw, example):
    """The example with a few values replaced, removed, or unknown fields added."""
    document = copy.deepcopy(example)
    for _ in range(draw(st.integers(1, 3))):
        where = list(paths(document))
        if not where:
            break
        path = draw(st.sampled_from(where))
        parent = document
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "replace", "remove", "add"]))
        if action == "replace":
            # Half the time an edge value; copied, since the next mutation may change it.
            parent[path[-1]] = copy.deepcopy(draw(TRICKY | JSON))
        elif action == "remove":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = copy.deepcopy(draw(JSON))
    return document


def assert_never_laxer(check, document):
    if check.accepts(document):
        assert validation.errors_of(check.validator, document) == [], document


def test_the_compiled_check_accepts_every_example():
    # Otherwise the fast path would never be taken and ingest would pay for jsonschema.
    for event_type in catalog.BY_TYPE.values():
        assert validation._CHECKS[event_type.type].accepts(event_type.example)
    assert ingest._REQUEST_CHECK.accepts({"id": "e1", "organization_id": "acme",
                                          "type": "job.created", "data": {},
                                          "occurred_at": "2026-11-28T10:00:00Z"})


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), event_type=st.sampled_from(sorted(catalog.BY_TYPE)))
def test_the_compiled_check_never_accepts_data_jsonschema_refuses(data, event_type):
    document = data.draw(mutated(catalog.BY_TYPE[event_type].example))
    assert_never_laxer(validation._CHECKS[event_type], document)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_the_compiled_check_never_accepts_a_request_jsonschema_refuses(data):
    example = {"id": "evt-1", "organization_id": "acme", "type": "job.created",
               "occurred_at": "2026-11-28T10:00:00Z", "data": {"x": 1}}
    assert_never_laxer(ingest._REQUEST_CHECK, data.draw(mutated(example)))


def test_answers_come_from_jsonschema_when_the_compiled_check_refuses():
    data = copy.deepcopy(catalog.BY_TYPE["job.created"].example)
    data["job"]["created_at"] = "2026-02-30T00:00:00Z"
    data["job"]["number"] = True
    assert not validation._CHECKS["job.created"].accepts(data)
    assert validation.validate_data("job.created", data) == validation.errors_of(
        validation._CHECKS["job.created"].validator, data, prefix="data")
    assert validation.validate_data("job.created", data)
