"""POST /internal/events and GET /internal/event-types through the real HTTP interface."""
import copy
import io
import json

import pytest
import sqlalchemy
from jsonschema import Draft202012Validator
from markupsafe import escape

from tests.support.queues import RecordingQueue
from webhooks import catalog, lifecycle, validation
from webhooks.extensions import db
from webhooks.models import Delivery, Event, Organization

TOKEN = "test-internal-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JOB = catalog.BY_TYPE["job.created"].example["job"]


def event(**fields):
    body = {"organization_id": "acme", "type": "job.created", "data": {"job": copy.deepcopy(JOB)}}
    body.update(fields)
    return body


def post(client, body=None, headers=AUTH, **kwargs):
    if body is not None:
        kwargs["data"] = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/internal/events", headers=headers, content_type="application/json", **kwargs)


def counts():
    return (db.session.scalar(db.select(db.func.count()).select_from(Event)),
            db.session.scalar(db.select(db.func.count()).select_from(Delivery)))


@pytest.fixture
def queue(app):
    recording = RecordingQueue()
    app.extensions["webhooks_queue"] = recording
    return recording


@pytest.fixture
def acme(factory, queue):
    return factory.org("acme")


# -- Accepted events and fan-out ----------------------------------------------------------


def test_event_fans_out_to_active_subscribed_webhooks_only(client, factory, acme, queue):
    wanted = [factory.webhook(acme, name="A"), factory.webhook(acme, name="B",
                                                               events=("estimate.created", "job.created"))]
    factory.webhook(acme, name="Off", active=False)
    factory.webhook(acme, name="Other type", events=("job.updated",))
    deleted = factory.webhook(acme, name="Deleted")
    deleted.deleted_at = deleted.created_at
    db.session.commit()
    factory.webhook(factory.org("globex"), name="Other org")

    response = post(client, event())

    assert response.status_code == 202
    answer = response.get_json()
    assert answer["deliveries"] == 2
    stored = db.session.scalar(db.select(Event).filter_by(public_id=answer["event_id"]))
    deliveries = db.session.scalars(db.select(Delivery).filter_by(event_id=stored.id)).all()
    assert sorted(d.webhook_id for d in deliveries) == sorted(w.id for w in wanted)
    assert all(d.state == Delivery.PENDING and d.organization_id == acme.id for d in deliveries)
    assert queue.submitted == [[d.id for d in sorted(deliveries, key=lambda d: d.id)]]


def test_event_is_stored_as_the_exact_envelope_to_send(client, acme):
    body = event(id="host-evt-123", occurred_at="2026-11-28T11:00:00.250+01:00")
    answer = post(client, body).get_json()

    stored = db.session.scalar(db.select(Event).filter_by(public_id=answer["event_id"]))
    envelope = json.loads(stored.payload)
    assert list(envelope) == ["id", "type", "created_at", "occurred_at", "organization_id", "data"]
    assert envelope["id"] == answer["event_id"] == stored.public_id
    assert envelope["type"] == stored.type == "job.created"
    assert envelope["organization_id"] == "acme"
    assert envelope["data"] == body["data"]
    assert envelope["occurred_at"] == "2026-11-28T10:00:00.250Z"
    assert validation.is_datetime(envelope["created_at"]) and envelope["created_at"].endswith("Z")
    assert stored.host_event_id == "host-evt-123"
    assert stored.organization_id == acme.id


def test_without_occurred_at_the_envelope_uses_the_acceptance_time(client, acme):
    answer = post(client, event()).get_json()
    envelope = json.loads(db.session.scalar(db.select(Event.payload).filter_by(public_id=answer["event_id"])))
    assert envelope["occurred_at"] == envelope["created_at"]


def test_event_nobody_subscribes_to_is_stored_and_acknowledged(client, factory, acme, queue):
    factory.webhook(acme, events=("job.updated",))
    response = post(client, event(id="e1"))
    assert response.status_code == 202
    assert response.get_json()["deliveries"] == 0
    assert counts() == (1, 0)
    assert queue.submitted == []


def test_unknown_organization_is_acknowledged_and_nothing_is_stored(client, acme):
    response = post(client, event(organization_id="nobody"))
    assert response.status_code == 202
    answer = response.get_json()
    assert answer["deliveries"] == 0 and answer["event_id"] is None
    assert "nobody" in answer["warning"]
    assert counts() == (0, 0)


@pytest.mark.parametrize("event_type", catalog.SUBSCRIBABLE)
def test_every_catalog_example_is_accepted(client, factory, acme, event_type):
    factory.webhook(acme, events=(event_type,))
    response = post(client, {"organization_id": "acme", "type": event_type,
                             "data": catalog.BY_TYPE[event_type].example})
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["deliveries"] == 1


def test_deliveries_stay_due_when_the_queue_hand_off_fails(app, client, factory, acme):
    app.extensions["webhooks_queue"] = RecordingQueue(fail=True)
    factory.webhook(acme)
    response = post(client, event())
    assert response.status_code == 202
    delivery = db.session.scalar(db.select(Delivery))
    assert delivery.state == Delivery.PENDING and delivery.next_attempt_at is not None


def test_ping_payload_matches_the_ping_schema(factory, acme):
    delivery = lifecycle.send_test_event(factory.webhook(acme, active=False))
    envelope = json.loads(delivery.event.payload)
    assert envelope["type"] == "webhook.ping"
    assert validation.validate_data("webhook.ping", envelope["data"]) == []


def test_an_event_costs_two_statements_outside_any_transaction_on_postgresql(app, client, factory,
                                                                           acme, database):
    factory.webhook(acme)
    factory.webhook(acme, name="Second")
    db.session.commit()
    seen = []

    def note(conn, cursor, statement, parameters, context, executemany):
        # sqlite3 has no autocommit attribute before Python 3.12: None there.
        seen.append((statement.split()[0], getattr(conn.connection.dbapi_connection, "autocommit", None)))

    sqlalchemy.event.listen(db.engine, "before_cursor_execute", note)
    try:
        assert post(client, event()).status_code == 202
    finally:
        sqlalchemy.event.remove(db.engine, "before_cursor_execute", note)
    if database == "postgres":  # the look-up, then the event with its deliveries
        assert seen == [("SELECT", True), ("WITH", True)]
    else:  # one local transaction: the look-up, the event, then each delivery (SQLite cannot
        # return the ids of one multi-row INSERT in the order of its rows)
        assert [kind for kind, _ in seen] == ["SELECT", "INSERT", "INSERT", "INSERT"]
    assert counts() == (1, 2)


def test_after_ingest_the_pooled_connection_is_transactional_again(app, client, acme):
    assert post(client, event()).status_code == 202
    db.session.add(Organization(slug="rolled-back", name="Rolled back"))
    db.session.flush()
    db.session.rollback()  # had autocommit stayed on, the flush would have been kept
    assert db.session.scalar(db.select(Organization).filter_by(slug="rolled-back")) is None


# -- Idempotency -----------------------------------------------------------------------------


def test_repeated_id_answers_the_first_event_and_delivers_nothing_new(client, factory, acme, queue):
    factory.webhook(acme)
    factory.webhook(acme, name="Second")
    first = post(client, event(id="host-evt-1"))
    factory.webhook(acme, name="Added later")  # a repeat must not reach it either
    repeat = post(client, event(id="host-evt-1"))

    assert first.status_code == 202 and repeat.status_code == 200
    assert repeat.get_json()["event_id"] == first.get_json()["event_id"]
    assert repeat.get_json()["deliveries"] == first.get_json()["deliveries"] == 2
    assert repeat.get_json()["duplicate"] is True
    assert counts() == (1, 2)
    assert len(queue.submitted) == 1


def test_same_id_in_two_organizations_makes_two_events(client, factory, acme):
    factory.org("globex")
    assert post(client, event(id="shared")).status_code == 202
    assert post(client, event(id="shared", organization_id="globex")).status_code == 202
    assert counts() == (2, 0)


def test_events_without_id_are_never_merged(client, acme):
    assert post(client, event()).status_code == 202
    assert post(client, event()).status_code == 202
    assert counts() == (2, 0)


# -- Refusals: exact status, useful message, nothing stored --------------------------------


@pytest.fixture
def unchanged(app, factory, acme):
    """Assert that a refused request stored nothing at all."""
    factory.webhook(acme)
    post(app.test_client(), event(id="already-there"))
    before = counts()
    yield
    db.session.rollback()
    assert counts() == before


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                                     {"Authorization": f"Basic {TOKEN}"}, {"Authorization": "Bearer "},
                                     {"Authorization": "Bearer tést"}])
def test_missing_or_wrong_token_is_401(client, unchanged, headers):
    response = post(client, event(), headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.get_json()["errors"][0]["message"] == "Missing or wrong bearer token."


def test_ingest_refuses_everything_until_a_token_is_configured(make_app):
    app = make_app(WEBHOOKS_INTERNAL_TOKEN=None)
    client = app.test_client()
    for response in (post(client, event()), post(client, event(), headers={"Authorization": "Bearer "}),
                     client.get("/internal/event-types")):
        assert response.status_code == 503
        assert "WEBHOOKS_INTERNAL_TOKEN" in response.get_json()["errors"][0]["message"]


def test_body_over_256_kib_is_413(client, unchanged):
    body = event(data={"job": {**JOB, "name": "x" * (256 * 1024)}})
    response = post(client, body)
    assert response.status_code == 413
    assert response.get_json()["errors"][0]["message"] == "The body is larger than 256 KiB (262144 bytes)."


def test_chunked_body_over_256_kib_is_413(client, unchanged):
    body = json.dumps(event(data={"job": {**JOB, "name": "x" * (256 * 1024)}})).encode()
    response = client.post("/internal/events", input_stream=io.BytesIO(body),
                           headers={**AUTH, "Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == 413
    assert response.is_json


def test_chunked_body_under_the_limit_is_read(client, acme):
    body = json.dumps(event()).encode()
    response = client.post("/internal/events", input_stream=io.BytesIO(body),
                           headers={**AUTH, "Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == 202


@pytest.mark.parametrize(("body", "message"), [
    (b"", "The body is empty"),
    (b"not json", "The body is not valid JSON"),
    (b'{"organization_id": "acme",', "The body is not valid JSON"),
    (b"\xff\xfe{}", "The body must be UTF-8 encoded JSON (RFC 8259); this body looks like UTF-16"),
    (b'{"a": NaN}', "The body is not valid JSON"),
    (b'{"a": 1e999}', "The body is not valid JSON"),
    (b"[" * 5000 + b"]" * 5000, "The body is not valid JSON"),
    (b"[1, 2]", "The body must be a JSON object"),
    (b'"acme"', "The body must be a JSON object"),
    (b"null", "The body must be a JSON object"),
])
def test_body_that_is_not_a_json_object_is_400(client, unchanged, body, message):
    response = post(client, body)
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["message"].startswith(message)


def test_lone_surrogate_is_422(client, unchanged):
    body = json.dumps(event()).replace('"Roof replacement"', '"Roof \\ud800"')
    response = post(client, body)
    assert response.status_code == 422
    assert "Unicode" in response.get_json()["errors"][0]["message"]


# -- Dates out of range, repeated keys, bodies that are not UTF-8 ---------------------------

OUT_OF_RANGE = "is out of range: it must convert to a UTC time between years 0001 and 9999; got {!r}."
NOT_UTF8 = "The body must be UTF-8 encoded JSON (RFC 8259)"


def problems(response):
    return [(e["path"], e["message"]) for e in response.get_json()["errors"]]


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "0001-01-01T13:59:59.999999+14:00",
                                    "0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-14:00",
                                    "9999-12-31T23:59:59.999999-00:01", "9999-12-31t10:00:00-23:59"])
def test_occurred_at_outside_utc_years_1_to_9999_is_422(client, unchanged, moment):
    response = post(client, event(occurred_at=moment))
    assert response.status_code == 422
    assert problems(response) == [("occurred_at", OUT_OF_RANGE.format(moment))]


def test_date_time_inside_data_outside_utc_years_1_to_9999_is_422(client, unchanged):
    signed = copy.deepcopy(catalog.BY_TYPE["signed_document.signed"].example)
    signed["signed_document"]["signers"][1]["signed_at"] = "9999-12-31T23:59:59-14:00"
    job = event(data={"job": {**JOB, "created_at": "0001-01-01T00:00:00+14:00"}})

    for body, path, moment in [
        (job, "data.job.created_at", "0001-01-01T00:00:00+14:00"),
        (event(type="signed_document.signed", data=signed), "data.signed_document.signers[1].signed_at",
         "9999-12-31T23:59:59-14:00"),
    ]:
        response = post(client, body)
        assert response.status_code == 422
        assert problems(response) == [(path, OUT_OF_RANGE.format(moment))]


@pytest.mark.parametrize(("moment", "stored"), [
    ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z"),
    ("0001-01-01T14:00:00+14:00", "0001-01-01T00:00:00.000Z"),
    ("0001-01-01T00:00:00-14:00", "0001-01-01T14:00:00.000Z"),
    ("0999-06-01T12:00:00+01:00", "0999-06-01T11:00:00.000Z"),
    ("9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999Z"),
    ("9999-12-31T09:59:59-14:00", "9999-12-31T23:59:59.000Z"),
])
def test_dates_at_the_edges_of_the_range_are_stored_in_rfc_3339(client, acme, moment, stored):
    body = event(occurred_at=moment, data={"job": {**JOB, "created_at": moment}})
    response = post(client, body)
    assert response.status_code == 202
    envelope = json.loads(db.session.scalar(db.select(Event.payload)))
    assert envelope["occurred_at"] == stored
    assert envelope["data"]["job"]["created_at"] == moment  # data is sent as the host wrote it


def test_leap_second_is_422_because_it_has_no_utc_time_in_python(client, unchanged):
    response = post(client, event(occurred_at="2016-12-31T23:59:60Z"))
    assert response.status_code == 422
    assert problems(response) == [("occurred_at", "must be an RFC 3339 date-time with a zone, e.g. "
                                                  "2026-11-28T10:00:00Z; got '2016-12-31T23:59:60Z'.")]


def repeated_key_message(key, times="twice"):
    return (f'The body is not valid JSON for this service: the key "{key}" appears {times} '
            "in the same object.")


@pytest.mark.parametrize(("body", "message"), [
    ('{"organization_id": "acme", "type": "job.created", "organization_id": "globex", "data": {}}',
     repeated_key_message("organization_id")),
    ('{"organization_id": "acme", "organization_id": "acme", "type": "job.created", "data": {}}',
     repeated_key_message("organization_id")),
    (json.dumps(event()).replace('"number":', '"number": "J-1", "number":'), repeated_key_message("number")),
    (json.dumps(event()).replace('"city":', '"city": 1, "city": 2, "city":'),
     repeated_key_message("city", "3 times")),
    ('{"organization_id": "acme", "data": {"job": {"x": [{"é": 1, "é": 2}]}}}', repeated_key_message("é")),
])
def test_key_repeated_in_one_object_at_any_depth_is_400(client, unchanged, body, message):
    response = post(client, body.encode())
    assert response.status_code == 400
    assert problems(response) == [("", message)]


def test_same_key_in_different_objects_is_fine(client, acme):
    assert post(client, event(id="id")).status_code == 202  # "id" also in data.job and its user


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"])
def test_utf_16_and_utf_32_bodies_are_400(client, unchanged, encoding):
    response = post(client, json.dumps(event(), ensure_ascii=False).encode(encoding))
    assert response.status_code == 400
    assert problems(response) == [("", f"{NOT_UTF8}; this body looks like UTF-16 or UTF-32.")]


@pytest.mark.parametrize(("body", "detail"), [
    (json.dumps(event(data={"job": {**JOB, "name": "Café"}}), ensure_ascii=False).encode("latin-1"),
     "the byte 0xE9 at offset {} is not valid UTF-8 (invalid continuation byte)."),
    (json.dumps(event(data={"job": {**JOB, "name": "\ud800"}}), ensure_ascii=False)
     .encode("utf-8", "surrogatepass"), "the byte 0xED at offset {} is not valid UTF-8 (invalid continuation byte)."),
    (json.dumps(event(data={"job": {**JOB, "name": "\xc0\xaf"}}), ensure_ascii=False).encode("latin-1"),
     "the byte 0xC0 at offset {} is not valid UTF-8 (invalid start byte)."),
    (b'{"organization_id": "acme\xe2\x82',
     "the byte 0xE2 at offset {} is not valid UTF-8 (unexpected end of data)."),
])
def test_bytes_that_are_not_utf_8_are_400_with_their_offset(client, unchanged, body, detail):
    offset = next(i for i, byte in enumerate(body) if byte >= 0x80)
    response = post(client, body)
    assert response.status_code == 400
    assert problems(response) == [("", f"{NOT_UTF8}; {detail.format(offset)}")]


def test_utf_8_byte_order_mark_is_ignored(client, acme):
    body = json.dumps(event(data={"job": {**JOB, "name": "Café"}}), ensure_ascii=False)
    response = post(client, b"\xef\xbb\xbf" + body.encode())
    assert response.status_code == 202
    payload = db.session.scalar(db.select(Event.payload))
    assert not payload.startswith("\ufeff") and json.loads(payload)["data"]["job"]["name"] == "Café"


@pytest.mark.parametrize("content_type", ["application/json; charset=iso-8859-1",
                                          "application/json; charset=utf-16", "text/plain; charset=ascii"])
def test_a_charset_other_than_utf_8_is_400_even_for_an_ascii_body(client, unchanged, content_type):
    response = client.post("/internal/events", data=json.dumps(event()), headers=AUTH,
                           content_type=content_type)
    assert response.status_code == 400
    charset = content_type.partition("charset=")[2]
    assert problems(response) == [("", f"{NOT_UTF8}, but the Content-Type header declares charset={charset}.")]


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/json; charset=UTF-8",
                                          "application/json;charset=utf8", "application/json"])
def test_utf_8_charset_or_none_is_accepted(client, acme, content_type):
    response = client.post("/internal/events", data=json.dumps(event()), headers=AUTH,
                           content_type=content_type)
    assert response.status_code == 202


def test_nul_characters_in_data_are_stored_and_sent(client, acme):
    body = event(data={"job": {**JOB, "name": "Roof\u0000", "extra\u0000": "\u0000"}})
    response = post(client, body)
    assert response.status_code == 202
    assert json.loads(db.session.scalar(db.select(Event.payload)))["data"] == body["data"]


@pytest.mark.parametrize(("body", "expected"), [
    (event(type="job.exploded"), [("type", "Unknown event type 'job.exploded'; see GET /internal/event-types.")]),
    (event(type="webhook.ping"), [("type", "'webhook.ping' is sent by the service itself.")]),
    (event(type=7), [("type", "must be of type string, not integer.")]),
    ({"type": "job.created", "data": {"job": JOB}}, [("organization_id", "is required.")]),
    (event(organization_id=""), [("organization_id", "'' does not match the pattern ^[!-~]{1,64}$.")]),
    (event(data=None), [("data", "must be of type object, not null.")]),
    ({"organization_id": "acme", "type": "job.created"}, [("data", "is required.")]),
    (event(id=123), [("id", "must be of type string, not integer.")]),
    (event(id="has space"), [("id", "'has space' does not match the pattern ^[!-~]{1,255}$.")]),
    (event(id="x" * 256), [("id", f"{'x' * 56!r}"[:57] + "... does not match the pattern ^[!-~]{1,255}$.")]),
    (event(occurred_at="2026-11-28 10:00"),
     [("occurred_at", "must be an RFC 3339 date-time with a zone, e.g. 2026-11-28T10:00:00Z; got '2026-11-28 10:00'.")]),
    (event(occured_at="2026-11-28T10:00:00Z"), [("occured_at", "is not a known field.")]),
    (event(data={"job": {**JOB, "id": None, "assigned_user": {"id": "u1"}}}),
     [("data.job.assigned_user.email", "is required."), ("data.job.assigned_user.name", "is required."),
      ("data.job.id", "must be of type string, not null.")]),
])
def test_invalid_event_is_422_with_every_problem_and_its_path(client, unchanged, body, expected):
    response = post(client, body)
    assert response.status_code == 422
    assert [(e["path"], e["message"]) for e in response.get_json()["errors"]] == expected


def test_unknown_type_and_bad_envelope_are_reported_together(client, unchanged):
    response = post(client, {"type": "nope", "id": "", "data": []})
    assert response.status_code == 422
    assert [e["path"] for e in response.get_json()["errors"]] == ["data", "id", "organization_id", "type"]


def test_wrong_method_is_405_in_json(client):
    response = client.get("/internal/events", headers=AUTH)
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert response.get_json()["errors"][0]["message"]


# -- The catalog endpoint ------------------------------------------------------------------


def test_event_types_lists_the_catalog_with_schemas_and_examples(client):
    response = client.get("/internal/event-types", headers=AUTH)
    assert response.status_code == 200
    listed = response.get_json()["event_types"]
    assert [t["type"] for t in listed] == [*catalog.SUBSCRIBABLE, "webhook.ping"]
    for entry in listed:
        assert entry["kind"] and entry["label"] and entry["description"]
        Draft202012Validator(entry["schema"], format_checker=validation.FORMAT_CHECKER).validate(entry["example"])


def test_event_types_needs_the_token(client):
    response = client.get("/internal/event-types", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401


# -- The reference page --------------------------------------------------------------------


def test_reference_page_documents_every_type_by_kind(client, factory, auth, acme):
    factory.user(org=acme)
    auth.login()
    response = client.get("/orgs/acme/webhooks/events")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for kind, types in catalog.by_kind():
        assert f">{kind}</h2>" in page
        for t in types:
            assert f'id="{t.type}"' in page
            assert str(escape(t.description)) in page
    assert "data.job" not in page  # field names are relative to data
    assert "signed_document.signers[].email" in page
    assert "webhook-signature" in page and "webhook-timestamp" in page
    assert "&#34;organization_id&#34;: &#34;acme&#34;" in page  # the example envelope


def test_reference_page_needs_the_webhooks_permission(client, factory, auth, acme):
    factory.user(org=acme, permissions=())
    assert client.get("/orgs/acme/webhooks/events").status_code == 302  # to the login page
    auth.login()
    assert client.get("/orgs/acme/webhooks/events").status_code == 403
