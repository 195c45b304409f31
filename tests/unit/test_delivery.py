"""The pure parts of a delivery: signing, headers, masking, the retry schedule, error wording."""
import base64
import json
from datetime import datetime, timedelta, timezone

import pytest
import requests
import responses
from standardwebhooks import Webhook as StandardWebhook

from webhooks import __version__
from webhooks.crypto import new_signing_secret
from webhooks.recording import next_step
from webhooks.sender import BODY_LIMIT, Sender, SenderSettings
from webhooks.signing import masked, request_headers, sign
from webhooks.models import Delivery

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc)
DELAYS = (300, 600)


def test_signature_verifies_with_the_standard_webhooks_library():
    secret = new_signing_secret()
    body = json.dumps({"id": "evt_1", "data": {"é": 1}}, ensure_ascii=False).encode()
    timestamp = int(datetime.now(timezone.utc).timestamp())
    headers = dict(request_headers("msg_1", body, secret, timestamp))

    verified = StandardWebhook(secret).verify(body, {k.lower(): v for k, v in headers.items()})

    assert verified == {"id": "evt_1", "data": {"é": 1}}
    assert headers["webhook-signature"] == sign(secret, "msg_1", timestamp, body)


def test_headers_name_the_service_and_carry_basic_auth():
    headers = dict(request_headers("msg_1", b"{}", new_signing_secret(), 1, ("ann", "s3cret")))

    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"].startswith(f"Webhooks/{__version__} ")
    assert headers["webhook-id"] == "msg_1"
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"ann:s3cret").decode()


def test_stored_headers_hide_the_credentials():
    headers = request_headers("msg_1", b"{}", new_signing_secret(), 1, ("ann", "s3cret"))

    stored = dict(masked(headers))

    assert stored["Authorization"] == "Basic ••••••"
    assert "s3cret" not in json.dumps(masked(headers))
    assert stored["webhook-id"] == "msg_1"


def test_first_failure_retries_after_the_first_delay():
    assert next_step(1, False, T0, DELAYS) == (Delivery.PENDING, T0 + timedelta(seconds=300))


def test_second_failure_retries_after_the_second_delay():
    assert next_step(2, False, T0, DELAYS) == (Delivery.PENDING, T0 + timedelta(seconds=600))


def test_third_failure_stops_retrying():
    assert next_step(3, False, T0, DELAYS) == (Delivery.FAILED, None)


@pytest.mark.parametrize("count", [1, 2, 3])
def test_success_at_any_attempt_ends_the_delivery(count):
    assert next_step(count, True, T0, DELAYS) == (Delivery.SUCCEEDED, None)


@responses.activate
def test_a_2xx_answer_is_recorded_with_headers_and_body():
    responses.post("https://hooks.example.com/in", status=204, headers={"X-Req": "42"}, body=b"")
    sender = Sender(SenderSettings(allow_private=True))

    outcome = sender.send("https://hooks.example.com/in", b"{}", [["Content-Type", "application/json"]])

    assert outcome.succeeded and outcome.status == 204
    assert ["X-Req", "42"] in outcome.headers
    assert outcome.body == "" and outcome.body_size == 0 and not outcome.truncated
    assert abs((outcome.finished_at - outcome.started_at).total_seconds() * 1000
               - outcome.duration_ms) <= 1


@responses.activate
def test_a_long_body_is_cut_at_64_kib_and_its_size_kept():
    responses.post("https://hooks.example.com/in", status=200, body=b"x" * (BODY_LIMIT * 3),
                   headers={"Content-Length": str(BODY_LIMIT * 3)})

    outcome = Sender(SenderSettings(allow_private=True)).send("https://hooks.example.com/in", b"{}", [])

    assert outcome.truncated
    assert len(outcome.body) == BODY_LIMIT
    assert outcome.body_size == BODY_LIMIT * 3


@responses.activate
def test_a_body_that_is_not_utf8_is_kept_readable():
    responses.post("https://hooks.example.com/in", status=500, body=b"bad \xff byte")

    outcome = Sender(SenderSettings(allow_private=True)).send("https://hooks.example.com/in", b"{}", [])

    assert not outcome.succeeded and outcome.status == 500
    assert outcome.body == "bad \ufffd byte"


@responses.activate
def test_a_redirect_is_a_failure_that_names_its_location():
    responses.post("https://hooks.example.com/in", status=302,
                   headers={"Location": "https://elsewhere.example.com/"})

    outcome = Sender(SenderSettings(allow_private=True)).send("https://hooks.example.com/in", b"{}", [])

    assert not outcome.succeeded and outcome.status == 302
    assert outcome.error == "Redirect (302) not followed: Location https://elsewhere.example.com/"
    assert len(responses.calls) == 1


@pytest.mark.parametrize("exc, words", [
    (requests.exceptions.ReadTimeout("read timed out"), "Timed out after 15 s waiting for a response"),
    (requests.exceptions.ConnectTimeout("connect timed out"), "Timed out after 5 s connecting to hooks.example.com"),
    (requests.exceptions.ConnectionError(ConnectionRefusedError(111, "Connection refused")), "Connection refused"),
])
@responses.activate
def test_network_errors_are_told_in_plain_words(exc, words):
    responses.post("https://hooks.example.com/in", body=exc)

    outcome = Sender(SenderSettings(allow_private=True)).send("https://hooks.example.com/in", b"{}", [])

    assert not outcome.succeeded and outcome.status is None
    assert outcome.error == words


def test_a_plain_http_url_is_refused_before_connecting():
    outcome = Sender(SenderSettings(allow_private=True)).send("http://hooks.example.com/in", b"{}", [])

    assert not outcome.succeeded and outcome.status is None
    assert outcome.error.startswith("Webhook URL must use https://")
