"""Failure categories and what to fix: classify (for attempts stored before categories) agrees
with what Sender decides, and advice has words for every category."""
import ssl
from datetime import datetime, timezone

import pytest
import requests
import responses

from webhooks import failures, urlguard
from webhooks.failures import (BLOCKED, CONNECTION, DNS, HTTP_4XX, HTTP_5XX, REDIRECT, SUCCESS,
                               TIMEOUT, TLS)
from webhooks.sender import Sender, SenderSettings

URL = "https://hooks.example.com/in"
BLOCKED_WORDS = urlguard.blocked_message("hooks.example.com", "10.0.0.7", urlguard.PRIVATE_NETWORK)

# (status, error, succeeded) as stored on an attempt -> its category
STORED = [
    (200, None, True, SUCCESS),
    (204, None, True, SUCCESS),
    (301, "Redirect (301) not followed: Location https://new.example.com/in", False, REDIRECT),
    (308, "Redirect (308) not followed: Location (none)", False, REDIRECT),
    (400, None, False, HTTP_4XX),
    (404, None, False, HTTP_4XX),
    (410, None, False, HTTP_4XX),
    (500, None, False, HTTP_5XX),
    (503, None, False, HTTP_5XX),
    (101, None, False, HTTP_5XX),  # no final answer: the server's to fix
    (None, "Timed out after 15 s waiting for a response", False, TIMEOUT),
    (None, "Timed out after 5 s connecting to hooks.example.com", False, TIMEOUT),
    (200, "Timed out after 15 s waiting for a response", False, TIMEOUT),  # body too slow
    (None, "Connection refused", False, CONNECTION),
    (None, "Connection reset by the endpoint", False, CONNECTION),
    (None, "Connection failed: ('Connection aborted.', RemoteDisconnected())", False, CONNECTION),
    (200, "Connection failed: Connection broken: IncompleteRead", False, CONNECTION),
    (None, "Connection failed: timed out resolving", False, CONNECTION),  # the prefix decides
    (None, None, False, CONNECTION),  # nothing known
    (None, "TLS certificate verify failed: certificate has expired", False, TLS),
    (None, "TLS certificate verify failed: unable to get local issuer certificate", False, TLS),
    (None, "TLS error: WRONG_VERSION_NUMBER", False, TLS),
    (None, "The host hooks.example.com could not be found (DNS lookup failed)", False, DNS),
    (None, BLOCKED_WORDS, False, BLOCKED),
    (None, urlguard.NOT_HTTPS, False, BLOCKED),
    (None, urlguard.HAS_CREDENTIALS, False, BLOCKED),
    (None, urlguard.RESOLVES_TO.format(host="h.example", address="10.0.0.7",
                                       reason=urlguard.PRIVATE_NETWORK), False, BLOCKED),
]


@pytest.mark.parametrize("status, error, succeeded, category", STORED)
def test_a_stored_attempt_is_classified_from_its_status_and_error(status, error, succeeded,
                                                                  category):
    assert failures.classify(status, error, succeeded) == category


def test_every_category_has_a_label():
    assert set(failures.LABELS) == set(failures.CATEGORIES)
    assert {c for *_, c in STORED} == set(failures.CATEGORIES)


def verify_error(message, code):
    error = ssl.SSLCertVerificationError(1, f"[SSL: CERTIFICATE_VERIFY_FAILED] {message}")
    error.verify_message, error.verify_code = message, code
    return error


# What the network does (an exception, or a status) -> the category Sender must record.
RAISED = [
    (requests.exceptions.ReadTimeout("read timed out"), TIMEOUT),
    (requests.exceptions.ConnectTimeout("connect timed out"), TIMEOUT),
    (requests.exceptions.ConnectionError(ConnectionRefusedError(111, "Connection refused")),
     CONNECTION),
    (requests.exceptions.ConnectionError(ConnectionResetError(104, "reset")), CONNECTION),
    (requests.exceptions.ConnectionError("something odd"), CONNECTION),
    (requests.exceptions.SSLError(verify_error("certificate has expired", 10)), TLS),
    (requests.exceptions.SSLError(ssl.SSLError(1, "wrong version number")), TLS),
    (requests.exceptions.ConnectionError("Failed to resolve domain"), DNS),
    (urlguard.BlockedAddress("hooks.example.com", "10.0.0.7", urlguard.PRIVATE_NETWORK), BLOCKED),
]
STATUSES = [(200, SUCCESS), (204, SUCCESS), (101, HTTP_5XX), (302, REDIRECT), (404, HTTP_4XX),
            (410, HTTP_4XX), (500, HTTP_5XX), (503, HTTP_5XX)]


@pytest.mark.parametrize("exc, category", RAISED)
@responses.activate
def test_sender_and_classify_agree_on_network_errors(exc, category):
    responses.post(URL, body=exc)

    outcome = Sender(SenderSettings(allow_private=True)).send(URL, b"{}", [])

    assert outcome.category == category
    assert failures.classify(outcome.status, outcome.error, outcome.succeeded) == category
    assert outcome.certificate_expires_at is None


@pytest.mark.parametrize("status, category", STATUSES)
@responses.activate
def test_sender_and_classify_agree_on_http_answers(status, category):
    responses.post(URL, status=status, headers={"Location": "https://new.example.com/in"})

    outcome = Sender(SenderSettings(allow_private=True)).send(URL, b"{}", [])

    assert outcome.category == category and outcome.succeeded == (category == SUCCESS)
    assert failures.classify(outcome.status, outcome.error, outcome.succeeded) == category


@pytest.mark.parametrize("url", ["http://hooks.example.com/in", "https://user:pw@hooks.example.com/"])
def test_a_url_refused_before_connecting_is_blocked(url):
    outcome = Sender(SenderSettings(allow_private=True)).send(url, b"{}", [])

    assert outcome.category == BLOCKED
    assert failures.classify(outcome.status, outcome.error, outcome.succeeded) == BLOCKED


def test_a_bug_in_sending_is_recorded_as_a_connection_failure(monkeypatch):
    sender = Sender(SenderSettings(allow_private=True))
    monkeypatch.setattr(sender, "send", lambda *args: 1 / 0)

    outcome = sender.send_safely(URL, b"{}", [])

    assert outcome.error == "Connection failed: division by zero" and outcome.category == CONNECTION
    assert failures.classify(outcome.status, outcome.error, outcome.succeeded) == CONNECTION


EXPIRED_ON = datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc)
HOOK = "https://hooks.example.com/hooks/"
PRIVATE = ("The address is private or reserved: webhooks are only sent to public HTTPS "
           "endpoints, so use a public address.")
PUBLIC_CA = ("The certificate is not signed by an authority we trust: use a certificate from a "
             "public certificate authority, and have the server send its intermediate "
             "certificates too.")

# (category, details, advice)
ADVICE = [
    (SUCCESS, {"status": 200}, None),
    (REDIRECT, {"status": 301, "error": "Redirect (301) not followed: Location https://new.example.com/hooks/"},
     "Your server answered 301 to https://hooks.example.com/hooks/: update the Webhook URL to "
     "where it redirects (https://new.example.com/hooks/)."),
    (REDIRECT, {"error": "Redirect (302) not followed: Location https://b.example/"},
     f"Your server answered 302 to {HOOK}: update the Webhook URL to where it redirects "
     "(https://b.example/)."),
    (REDIRECT, {"status": 307, "location": "https://c.example/"},
     f"Your server answered 307 to {HOOK}: update the Webhook URL to where it redirects "
     "(https://c.example/)."),
    (REDIRECT, {"status": 301, "error": "Redirect (301) not followed: Location (none)"},
     f"Your server redirects {HOOK} without saying where to: webhooks never follow redirects, "
     "so set the Webhook URL to the endpoint itself."),
    (HTTP_4XX, {"status": 401}, "Your server answered 401: check the authentication set on this "
     "webhook, and that your endpoint accepts our requests (IP allow-lists, firewalls)."),
    (HTTP_4XX, {"status": 403}, "Your server answered 403: check the authentication set on this "
     "webhook, and that your endpoint accepts our requests (IP allow-lists, firewalls)."),
    (HTTP_4XX, {"status": 404}, f"Your server answered 404 to {HOOK}: check the URL's path."),
    (HTTP_4XX, {"status": 410}, "Your server answered 410 Gone: the endpoint asked us to stop, "
     "so the webhook is turned off. Turn it back on once the endpoint takes events again."),
    (HTTP_4XX, {"status": 422}, "Your server answered 422: it refused the request; its logs or "
     "the response body say why."),
    (HTTP_5XX, {"status": 500}, "Your server answered 500: check its logs for the error."),
    (HTTP_5XX, {"status": 101}, "Your server answered 101, which is not a final answer: it "
     "should answer 2xx once it has the event."),
    (TIMEOUT, {"error": "Timed out after 15 s waiting for a response"},
     "Nothing answered within 15 s: your endpoint should answer first and process the event later."),
    (TIMEOUT, {"error": "Timed out after 1.5 s waiting for a response", "timeout_seconds": 1.5},
     "Nothing answered within 1.5 s: your endpoint should answer first and process the event later."),
    (TIMEOUT, {"error": "Timed out after 5 s connecting to hooks.example.com"},
     "Nothing accepted a connection on hooks.example.com:443 in time: check that your server is "
     "up and that its firewall lets our requests in."),
    (CONNECTION, {"error": "Connection refused"}, "Nothing is listening on hooks.example.com:443: "
     "check that your server is running and that the Webhook URL has the right port."),
    (CONNECTION, {"error": "Connection reset by the endpoint"}, "Your server closed the "
     "connection before answering: check its logs and any proxy or firewall in front of it."),
    (CONNECTION, {"error": "Connection failed: boom"}, "We could not talk to "
     "hooks.example.com:443: check that your server is up and reachable from the internet."),
    (TLS, {"error": "TLS certificate verify failed: certificate has expired",
           "certificate_expires_at": EXPIRED_ON}, "The certificate expired on 2026-11-02: renew it."),
    (TLS, {"error": "TLS certificate verify failed: certificate has expired"},
     "The certificate has expired: renew it."),
    (TLS, {"error": "TLS certificate verify failed: unable to get local issuer certificate"},
     PUBLIC_CA),
    (TLS, {"error": "TLS certificate verify failed: self-signed certificate"},
     "The certificate is self-signed: use a certificate from a public certificate authority."),
    (TLS, {"error": "TLS certificate verify failed: Hostname mismatch, certificate is not valid "
                    "for 'hooks.example.com'."},
     "The certificate is not valid for hooks.example.com: install one that names hooks.example.com."),
    (TLS, {"error": "TLS certificate verify failed: certificate is not yet valid"},
     "The certificate is not valid yet: check its start date and the server's clock."),
    (TLS, {"error": "TLS error: WRONG_VERSION_NUMBER"}, "The TLS handshake with "
     "hooks.example.com:443 failed: check that the server speaks HTTPS (TLS 1.2 or later) on "
     "that port."),
    (DNS, {"error": "The host hooks.example.com could not be found (DNS lookup failed)"},
     "hooks.example.com does not resolve: check the host name in the Webhook URL and its DNS "
     "records."),
    (BLOCKED, {"error": BLOCKED_WORDS}, PRIVATE),
    (BLOCKED, {}, PRIVATE),
    (BLOCKED, {"error": urlguard.NOT_HTTPS}, urlguard.NOT_HTTPS),
]


@pytest.mark.parametrize("category, details, words", ADVICE)
def test_advice_says_what_to_fix(category, details, words):
    assert failures.advice(category, url=HOOK, **details) == words


def test_every_failure_has_advice_even_with_nothing_but_the_url():
    for category in failures.FAILURES:
        assert failures.advice(category, url=HOOK)


def test_advice_names_the_port_of_the_url():
    assert failures.advice(CONNECTION, url="https://[2001:db8::1]:8443/in",
                           error="Connection refused").startswith(
        "Nothing is listening on [2001:db8::1]:8443:")
