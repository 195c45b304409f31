"""Fuzz: dates at the edges, repeated keys and bodies that are not UTF-8 get the right 4xx, never a
5xx, and a refused body writes nothing."""
import codecs
import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.test_ingest_properties import AUTH, bodies, counts, two_orgs_without_a_queue
from webhooks import catalog
from webhooks.extensions import db
from webhooks.models import Event

NOT_UTF8 = "The body must be UTF-8 encoded JSON (RFC 8259)"
UTF16 = f"{NOT_UTF8}; this body looks like UTF-16 or UTF-32."
OUT_OF_RANGE = "is out of range"
BAD_FORMAT = "must be an RFC 3339 date-time"

# (date-time, the start of the message it earns, or None when it must be accepted)
DATES = [(d, None) for d in [
    "0001-01-01T00:00:00Z", "0001-01-01T00:00:00-14:00", "0001-01-01T14:00:00+14:00",
    "0001-01-01T23:59:00+23:59", "9999-12-31T23:59:59.999999Z", "9999-12-31T09:59:59-14:00",
    "9999-12-31T23:59:59+14:00", "9999-12-31T00:00:00-23:59", "2026-11-28t10:00:00z",
    "2026-11-28T10:00:00.123456789+05:30", "2024-02-29T00:00:00-00:00", "0999-06-01T12:00:00+01:00",
]] + [(d, OUT_OF_RANGE) for d in [
    "0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00+00:01", "0001-01-01T13:59:59.999999+14:00",
    "9999-12-31T23:59:59-14:00", "9999-12-31T23:59:59.999999-00:01", "9999-12-31T00:01:00-23:59",
]] + [(d, BAD_FORMAT) for d in [
    "2016-12-31T23:59:60Z", "1990-12-31T15:59:60-08:00", "9999-12-31T23:59:60Z", "0000-01-01T00:00:00Z",
    "2026-02-30T10:00:00Z", "2026-11-28T24:00:00Z", "2026-11-28T10:00:00+24:00", "2026-11-28T10:00:00",
    "2026-11-28 10:00:00Z", "+002026-11-28T10:00:00Z", "10000-01-01T00:00:00Z", "2026-11-28T10:00Z",
    "20261128T100000Z", "2026-11-28T10:00:00,5Z", "2026-11-28T10:00:00+0200", "2026-11-28T10:00:00\u221202:00",
    "\u0662\u0660\u0662\u0666-11-28T10:00:00Z", "2026-11-28T10:00:00Z\n", "2026-11-28T10:00:00.Z", "",
]]


@st.composite
def edge_dates(draw):
    """A time on 0001-01-01 with a positive offset or on 9999-12-31 with a negative one."""
    minute, offset = draw(st.integers(0, 24 * 60 - 1)), draw(st.integers(1, 24 * 60 - 1))
    time, zone = f"{minute // 60:02d}:{minute % 60:02d}:00", f"{offset // 60:02d}:{offset % 60:02d}"
    if draw(st.booleans()):
        return f"0001-01-01T{time}+{zone}", None if minute >= offset else OUT_OF_RANGE
    return f"9999-12-31T{time}-{zone}", None if minute + offset < 24 * 60 else OUT_OF_RANGE


def fields(value, names, path="data"):
    """Return (parent, key, path) of every string field of value named one of names."""
    found = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        where = f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}"
        if key in names and isinstance(child, str):
            found.append((value, key, where))
        found.extend(fields(child, names, where))
    return found


def objects(value):
    """Return every JSON object within value, value included."""
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return ([value] if isinstance(value, dict) else []) + [o for child in children for o in objects(child)]


def to_json(value, ensure_ascii, extra=None):
    """Serialize like json.dumps, writing extra = (object, index, key, value) as one more pair."""
    if isinstance(value, dict):
        pairs = list(value.items())
        if extra and extra[0] is value:
            pairs.insert(extra[1], extra[2:])
        return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=ensure_ascii)}: {to_json(v, ensure_ascii, extra)}"
                               for k, v in pairs) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(to_json(v, ensure_ascii, extra) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ensure_ascii)


def is_unicode(text):
    """Tell whether text has no unpaired surrogate (JSON escapes pair up like UTF-16)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_utf8(raw):
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


INVALID_UTF8 = [b"\xff", b"\xfe", b"\x80", b"\xbf", b"\xc3", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80",
                b"\xed\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf0\x9f\x99", b"\xf8\x88\x80\x80\x80"]
ENCODINGS = ["utf-8"] * 24 + ["utf-8-bom", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le",
                              "utf-32-be", "utf-16-bom", "latin-1", "invalid"]
EXTRA_TEXT = st.text(alphabet=st.sampled_from("éü€🙂\u0000\u2028" * 3 + "\ud800\udfff"), max_size=3)


@st.composite
def events(draw):
    """(body, Content-Type, expected): an event with perhaps a date at the edge, a repeated key,
    another encoding; expected is None (accepted) or (status, path, start of the message)."""
    event_type = draw(st.sampled_from(catalog.SUBSCRIBABLE))
    data = json.loads(json.dumps(catalog.BY_TYPE[event_type].example))
    body = {"organization_id": draw(st.sampled_from(["acme", "acme", "globex", "nobody"])),
            "type": event_type, "data": data}
    if draw(st.booleans()):
        body["id"] = draw(st.sampled_from(["fuzz-1", "fuzz-2"]) | st.uuids().map(str))
    parent, key, _ = draw(st.sampled_from(fields(data, ("name", "number", "status", "city"))))
    extra_text = draw(EXTRA_TEXT)
    parent[key] += extra_text
    expected = None

    where = draw(st.sampled_from(["occurred_at", "data", None, None]))
    if where:
        moment, problem = draw(st.sampled_from(DATES) | edge_dates())
        if where == "occurred_at":
            body["occurred_at"], path = moment, "occurred_at"
        else:
            parent, key, path = draw(st.sampled_from(fields(data, ("created_at", "updated_at", "signed_at"))))
            parent[key] = moment
        if problem:
            expected = (422, path, problem)

    ensure_ascii = draw(st.booleans())
    if not expected and not is_unicode(json.loads(json.dumps(extra_text))):  # as escapes; raw: below
        expected = (422, "", "The body holds text that is not valid Unicode")
    repeat = None
    if draw(st.integers(0, 3)) == 0:
        target = draw(st.sampled_from(objects(body)))
        key = draw(st.sampled_from(sorted(target)))
        repeat = (target, draw(st.integers(0, len(target))), key, draw(st.sampled_from([target[key], None])))
        expected = (400, "", "The body is not valid JSON for this service: the key "
                             f"{json.dumps(key, ensure_ascii=False)} appears twice in the same object.")
    text = to_json(body, ensure_ascii, repeat)

    encoding = draw(st.sampled_from(ENCODINGS))
    if encoding in ("utf-8", "utf-8-bom"):
        raw = codecs.BOM_UTF8 * (encoding == "utf-8-bom") + text.encode("utf-8", "surrogatepass")
    elif encoding == "utf-16-bom":  # a UTF-16 byte order mark before UTF-8 bytes
        raw = codecs.BOM_UTF16_LE + text.encode("utf-8", "surrogatepass")
    elif encoding.startswith("utf-"):
        raw = text.encode(encoding, "surrogatepass")
    elif encoding == "latin-1":
        at = draw(st.integers(0, len(text)))
        raw = (text[:at] + "é" + text[at:]).encode("latin-1", "replace")
    else:
        at = draw(st.integers(0, len(text)))
        raw = (text[:at].encode("utf-8", "surrogatepass") + draw(st.sampled_from(INVALID_UTF8))
               + text[at:].encode("utf-8", "surrogatepass"))
    if encoding.startswith("utf-16") or encoding.startswith("utf-32"):
        expected = (400, "", UTF16)
    elif not is_utf8(raw):
        expected = (400, "", NOT_UTF8)

    charset = draw(st.sampled_from([None] * 16 + ["utf-8", "UTF-8", "iso-8859-1", "utf-16"]))
    if charset and charset.lower() != "utf-8":
        expected = (400, "", f"{NOT_UTF8}, but the Content-Type header declares charset={charset}.")
    return raw, "application/json" + (f"; charset={charset}" if charset else ""), expected


# Mostly events built to test one thing; else anything at all, from the property test.
cases = st.integers(0, 5).flatmap(
    lambda n: events() if n else bodies.map(lambda body: (body, "application/json", "any")))

RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def test_fuzzed_bodies_get_their_4xx_and_never_write_part_of_an_event(app, client, factory):
    two_orgs_without_a_queue(app, factory)

    @settings(max_examples=1000, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(case=cases)
    def check(case):
        raw, content_type, expected = case
        before = counts()
        response = client.post("/internal/events", data=raw, headers=AUTH, content_type=content_type)
        db.session.rollback()
        after = counts()
        answer = response.get_json()

        assert response.status_code < 500 and response.is_json, response.get_data(as_text=True)
        if expected is None:
            assert response.status_code in (200, 202), answer
        elif expected != "any":
            status, path, message = expected
            assert response.status_code == status, answer
            assert any(e["path"] == path and e["message"].startswith(message) for e in answer["errors"]), answer
        if response.status_code == 202 and answer["event_id"]:
            assert after == (before[0] + 1, before[1] + answer["deliveries"])
            envelope = json.loads(db.session.scalar(db.select(Event.payload)
                                                    .filter_by(public_id=answer["event_id"])))
            assert RFC3339_UTC.match(envelope["occurred_at"]), envelope["occurred_at"]
            assert envelope["data"] == json.loads(raw.decode("utf-8-sig"))["data"]
        else:
            assert response.status_code != 200 or answer["duplicate"] is True
            assert after == before

    check()
