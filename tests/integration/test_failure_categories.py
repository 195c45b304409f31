"""Every failure category from a real failure on 127.0.0.1: the category Sender records, the
error words (unchanged), classify's agreement for older rows, and what the owner should fix."""
import socket
import ssl
import threading
from contextlib import contextmanager
from datetime import datetime, timezone

import pytest
import requests
import urllib3

from tests.support.certificates import DatedCA
from tests.support.receiver import Receiver, Reply, make_ca, server_context
from webhooks import failures, sender as sender_module
from webhooks.sender import Sender, SenderSettings

pytestmark = pytest.mark.https

VALID_UNTIL = datetime(2031, 6, 15, 12, 0, tzinfo=timezone.utc)
EXPIRED_ON = datetime(2024, 11, 2, 8, 30, tzinfo=timezone.utc)
EXPIRED = {"not_before": datetime(2020, 1, 1), "not_after": EXPIRED_ON.replace(tzinfo=None)}


@pytest.fixture
def make_sender(ca_bundle):
    """Return make(**settings): a Sender trusting the test CA, closed after the test."""
    made = []

    def make(**settings):
        settings = {"allow_private": True, "ca_bundle": ca_bundle, "connect_timeout": 1,
                    "total_timeout": 2, **settings}
        made.append(Sender(SenderSettings(**settings)))
        return made[-1]

    yield make
    for sender in made:
        sender.close()


@pytest.fixture
def receivers():
    """Return start(ca, **kwargs): a started Receiver, stopped after the test."""
    started = []

    def start(ca, **kwargs):
        started.append(Receiver(ca, **kwargs).start())
        return started[-1]

    yield start
    for receiver in started:
        receiver.stop()


@contextmanager
def raw_endpoint(handle):
    """Serve one connection on 127.0.0.1 with handle(conn, stop); yield its https URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        listener.settimeout(10)
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            try:
                handle(conn, stop)
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}/hook"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_failure(outcome, category, advice, url, timeout_seconds=2):
    """The outcome has the category, classify agrees, and the advice reads as given."""
    assert outcome.category == category and not outcome.succeeded
    assert failures.classify(outcome.status, outcome.error, outcome.succeeded) == category
    assert failures.advice(category, url=url, status=outcome.status, error=outcome.error,
                           timeout_seconds=timeout_seconds,
                           certificate_expires_at=outcome.certificate_expires_at) == advice


def test_a_success_carries_the_certificates_expiry(ca, make_sender, receivers):
    receiver = receivers(DatedCA(ca, not_after=VALID_UNTIL.replace(tzinfo=None)))

    outcome = make_sender().send(receiver.url, b"{}", [])

    assert outcome.succeeded and outcome.category == failures.SUCCESS
    assert outcome.certificate_expires_at == VALID_UNTIL
    assert failures.classify(outcome.status, outcome.error, True) == failures.SUCCESS
    assert failures.advice(outcome.category, url=receiver.url, status=200) is None


def test_the_certificate_is_read_once_per_kept_alive_connection(ca, make_sender, receivers,
                                                                monkeypatch):
    receiver = receivers(DatedCA(ca, not_after=VALID_UNTIL.replace(tzinfo=None)))
    reads = []
    getpeercert = ssl.SSLSocket.getpeercert
    monkeypatch.setattr(ssl.SSLSocket, "getpeercert",
                        lambda sock, *args: reads.append(sock) or getpeercert(sock, *args))
    sender = make_sender()

    outcomes = [sender.send(receiver.url, b"{}", []) for _ in range(3)]

    assert [o.certificate_expires_at for o in outcomes] == [VALID_UNTIL] * 3
    assert len(reads) == 1
    sender.close()  # the next attempt needs a new connection, so its certificate is read again
    assert make_sender().send(receiver.url, b"{}", []).certificate_expires_at == VALID_UNTIL
    assert len(reads) == 2


ANSWERS = [
    (Reply(301, b"", {"Location": "https://new.example.com/hook"}), failures.REDIRECT,
     "Redirect (301) not followed: Location https://new.example.com/hook",
     "Your server answered 301 to {url}: update the Webhook URL to where it redirects "
     "(https://new.example.com/hook)."),
    (Reply(404, b"no such hook"), failures.HTTP_4XX, None,
     "Your server answered 404 to {url}: check the URL's path."),
    (Reply(410, b"gone"), failures.HTTP_4XX, None,
     "Your server answered 410 Gone: the endpoint asked us to stop, so the webhook is turned "
     "off. Turn it back on once the endpoint takes events again."),
    (Reply(401, b"who are you"), failures.HTTP_4XX, None,
     "Your server answered 401: check the authentication set on this webhook, and that your "
     "endpoint accepts our requests (IP allow-lists, firewalls)."),
    (Reply(500, b"oops"), failures.HTTP_5XX, None,
     "Your server answered 500: check its logs for the error."),
    (Reply(101, b"", {}), failures.HTTP_5XX, None,
     "Your server answered 101, which is not a final answer: it should answer 2xx once it has "
     "the event."),
]


@pytest.mark.parametrize("reply, category, error, advice", ANSWERS,
                         ids=[str(reply.status) for reply, *_ in ANSWERS])
def test_an_http_answer_other_than_2xx_has_its_category(ca, make_sender, receivers, reply,
                                                        category, error, advice):
    receiver = receivers(ca)
    receiver.always(reply)

    outcome = make_sender().send(receiver.url, b"{}", [])

    assert outcome.status == reply.status and outcome.error == error
    assert outcome.certificate_expires_at is None
    assert_failure(outcome, category, advice.format(url=receiver.url), receiver.url)


def test_a_refused_port_is_a_connection_failure(make_sender):
    port = closed_port()
    url = f"https://127.0.0.1:{port}/hook"

    outcome = make_sender().send(url, b"{}", [])

    assert outcome.error == "Connection refused" and outcome.status is None
    assert_failure(outcome, failures.CONNECTION, f"Nothing is listening on 127.0.0.1:{port}: "
                   "check that your server is running and that the Webhook URL has the right "
                   "port.", url)


def test_an_endpoint_that_hangs_past_the_deadline_is_a_timeout(ca, make_sender, receivers):
    receiver = receivers(ca)
    receiver.always(Reply(200, delay=3))

    outcome = make_sender(total_timeout=1).send(receiver.url, b"{}", [])

    assert outcome.error == "Timed out after 1 s waiting for a response"
    assert_failure(outcome, failures.TIMEOUT, "Nothing answered within 1 s: your endpoint should "
                   "answer first and process the event later.", receiver.url, timeout_seconds=1)


def test_a_2xx_whose_body_does_not_arrive_in_time_is_a_timeout(ca, make_sender):
    def answer_then_stall(conn, stop):
        with server_context(ca).wrap_socket(conn, server_side=True) as tls:
            tls.recv(65536)
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"ok\":")
            stop.wait(5)

    with raw_endpoint(answer_then_stall) as url:
        outcome = make_sender(total_timeout=1).send(url, b"{}", [])

    assert outcome.status == 200 and outcome.error == "Timed out after 1 s waiting for a response"
    assert outcome.certificate_expires_at is None
    assert_failure(outcome, failures.TIMEOUT, "Nothing answered within 1 s: your endpoint should "
                   "answer first and process the event later.", url, timeout_seconds=1)


def test_a_certificate_from_an_unknown_authority_is_a_tls_failure(make_sender, receivers):
    receiver = receivers(make_ca())

    outcome = make_sender().send(receiver.url, b"{}", [])

    assert outcome.error == "TLS certificate verify failed: unable to get local issuer certificate"
    assert outcome.certificate_expires_at is None
    assert_failure(outcome, failures.TLS, "The certificate is not signed by an authority we "
                   "trust: use a certificate from a public certificate authority, and have the "
                   "server send its intermediate certificates too.", receiver.url)


def test_a_certificate_for_another_name_is_a_tls_failure(ca, make_sender, receivers):
    receiver = receivers(ca, names=("other.example",))

    outcome = make_sender().send(receiver.url, b"{}", [])

    assert outcome.error == ("TLS certificate verify failed: IP address mismatch, certificate "
                             "is not valid for '127.0.0.1'.")
    assert_failure(outcome, failures.TLS, "The certificate is not valid for 127.0.0.1: install "
                   "one that names 127.0.0.1.", receiver.url)


def test_an_expired_certificate_is_a_tls_failure_that_says_when_it_expired(ca, make_sender,
                                                                           receivers):
    receiver = receivers(DatedCA(ca, **EXPIRED))

    outcome = make_sender().send(receiver.url, b"{}", [])

    assert outcome.error == "TLS certificate verify failed: certificate has expired"
    assert outcome.certificate_expires_at == EXPIRED_ON
    assert_failure(outcome, failures.TLS, "The certificate expired on 2024-11-02: renew it.",
                   receiver.url)
    assert receiver.requests == []  # the second handshake sent no request


def test_an_expired_certificate_at_a_private_address_is_not_fetched_again(ca_bundle,
                                                                          monkeypatch):
    """Private targets refused: the expiry of a certificate seen at a private address (as if
    the guard had let it through) is not read by a second connection."""
    connects = []
    monkeypatch.setattr(sender_module, "_unverified_peer_certificate",
                        lambda *args: connects.append(args))
    expired = ssl.SSLCertVerificationError(1, "certificate verify failed")
    expired.verify_message, expired.verify_code = "certificate has expired", 10
    pool = urllib3.HTTPSConnectionPool("10.0.0.7", 443)
    exc = requests.exceptions.SSLError(urllib3.exceptions.MaxRetryError(pool, "/hook", expired))
    guarded = Sender(SenderSettings(allow_private=False, ca_bundle=ca_bundle))

    assert guarded._expired_certificate(exc, "https://hooks.example.com/hook", float("inf")) is None
    assert connects == []
    pool.close()


def test_an_endpoint_that_does_not_speak_tls_is_a_tls_failure(make_sender):
    def plain_http(conn, stop):
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    with raw_endpoint(plain_http) as url:
        outcome = make_sender().send(url, b"{}", [])

    assert outcome.error.startswith("TLS error: ")
    address = url.removeprefix("https://").removesuffix("/hook")
    assert_failure(outcome, failures.TLS, f"The TLS handshake with {address} failed: check that "
                   "the server speaks HTTPS (TLS 1.2 or later) on that port.", url)


def test_a_loopback_endpoint_is_blocked_when_private_targets_are_refused(ca, make_sender,
                                                                         receivers):
    receiver = receivers(ca)

    outcome = make_sender(allow_private=False).send(receiver.url, b"{}", [])

    assert outcome.error.startswith("Blocked: 127.0.0.1 is a loopback address (this machine)")
    assert receiver.requests == []
    assert_failure(outcome, failures.BLOCKED, "The address is private or reserved: webhooks are "
                   "only sent to public HTTPS endpoints, so use a public address.", receiver.url)


@pytest.mark.parametrize("allow_private", [True, False], ids=["private-allowed", "guarded"])
def test_a_host_that_does_not_resolve_is_a_dns_failure(make_sender, monkeypatch, allow_private):
    """The resolver fails for this one name; no real DNS query is made."""
    asked = []
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host == "hooks.invalid":
            asked.append(host)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    url = "https://hooks.invalid/hook"

    outcome = make_sender(allow_private=allow_private).send(url, b"{}", [])

    assert asked and outcome.status is None
    assert outcome.error == "The host hooks.invalid could not be found (DNS lookup failed)"
    assert_failure(outcome, failures.DNS, "hooks.invalid does not resolve: check the host name "
                   "in the Webhook URL and its DNS records.", url)
