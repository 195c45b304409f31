"""Where webhooks may be sent: every crafted URL is refused when saved (inline check, add form,
edit form), and every refused address class is refused again by the connect-time filter.

DNS is answered by stubs and opening a socket is replaced by a failure, so nothing here can
connect anywhere (a refused address that slipped through would fail the test, not connect).
"""
import ipaddress
import socket
import types

import pytest
from markupsafe import escape
import requests_hardened.ip_filter
import urllib3.util.connection
from hypothesis import given, settings
from hypothesis import strategies as st

from webhooks import urlguard
from webhooks.extensions import db
from webhooks.models import Webhook
from webhooks.sender import Sender, SenderSettings

# Names a stub DNS answers; the rest of the hosts below are IP literals in their many spellings.
ANSWERS = {
    "public.example": ["93.184.216.34"],
    "public6.example": ["2606:4700::1111"],
    "internal.example": ["10.1.2.3"],
    "metadata.example": ["169.254.169.254"],
    "loopback.example": ["127.0.0.1"],
    "loopback6.example": ["::1"],
    "mixed.example": ["93.184.216.34", "10.0.0.7"],
    "mapped.example": ["::ffff:127.0.0.1"],
    "mapped-private.example": ["::ffff:192.168.0.10"],
    "compatible.example": ["::127.0.0.1"],
    "translated.example": ["::ffff:0:7f00:1"],
    "sixtofour.example": ["2002:c0a8:101::1"],
    "nat64.example": ["64:ff9b::a9fe:a9fe"],
    "nat64-local.example": ["64:ff9b:1::a00:1"],
    "teredo.example": ["2001:0:4136:e378:8000:63bf:3fff:fdd2"],
    "sitelocal.example": ["fec0::1"],
    "ula.example": ["fd12:3456::1"],
    "linklocal6.example": ["fe80::1"],
    "multicast6.example": ["ff02::1"],
    "docs6.example": ["2001:db8::1"],
    "cgnat.example": ["100.64.0.1"],
}

# (URL, the words its refusal must contain)
FORM = [
    ("http://public.example/hook", "must use https://"),
    ("ftp://public.example/hook", "must use https://"),
    ("javascript:alert(1)", "must use https://"),
    ("file:///etc/passwd", "must use https://"),
    ("gopher://public.example/", "must use https://"),
    ("data:text/plain,hello", "must use https://"),
    ("//public.example/hook", "Enter a complete URL"),
    ("public.example/hook", "Enter a complete URL"),
    ("https:///hook", "Enter a complete URL"),
    ("https://", "Enter a complete URL"),
    ("https://public .example/hook", "Enter a complete URL"),
    ("https://[::1/hook", "Enter a complete URL"),
    ("https://public.example:99999/hook", "Enter a complete URL"),
    ("https://public.example:-1/hook", "Enter a complete URL"),
    ("https://public.example:http/hook", "Enter a complete URL"),
    ("https://[fe80::1%25eth0]/hook", "zone index"),
    ("https://[fe80::1%eth0]/hook", "zone index"),
    ("https://public.example:0/hook", "Port 0"),
    ("https://public.example:00/hook", "Port 0"),
    ("https://user:pass@public.example/hook", "Remove the username and password"),
    ("https://user@public.example/hook", "Remove the username and password"),
    ("https://:pass@public.example/hook", "Remove the username and password"),
    ("https://public.example@127.0.0.1/hook", "Remove the username and password"),
    ("https://public.example/" + "a" * 2100, "at most 2,048 characters"),
    ("https://public.example/ho\x00ok", "control character"),
    ("https://public.exa\x00mple/hook", "control character"),
    ("https://public.example/hook\x01", "control character"),
    ("https://public.example/\x1b[31m", "control character"),
    ("https://public.example/hook\x7f", "control character"),
    ("https://public.example/ho\x85ok", "control character"),
    ("https://public.example/ho\tok", "control character"),
    ("https://public.example/ho\nok", "control character"),
    ("https://public.example\r\nX-Injected: 1/hook", "control character"),
]

# Literal addresses, in every spelling: (URL, words of the refusal)
LITERALS = [
    ("https://127.0.0.1/hook", "loopback"),
    ("https://127.255.255.254/hook", "loopback"),
    ("https://0.0.0.0/hook", "unspecified"),
    ("https://10.0.0.1/hook", "private network"),
    ("https://10.255.255.255/hook", "private network"),
    ("https://172.16.0.1/hook", "private network"),
    ("https://172.31.255.254/hook", "private network"),
    ("https://192.168.1.1/hook", "private network"),
    ("https://169.254.169.254/latest/meta-data/", "link-local"),
    ("https://100.64.0.1/hook", "carrier-grade NAT"),
    ("https://100.127.255.254/hook", "carrier-grade NAT"),
    ("https://192.0.0.8/hook", "reserved"),
    ("https://192.0.2.1/hook", "documentation"),
    ("https://198.51.100.7/hook", "documentation"),
    ("https://203.0.113.9/hook", "documentation"),
    ("https://198.18.0.1/hook", "benchmarking"),
    ("https://198.19.255.254/hook", "benchmarking"),
    ("https://192.88.99.1/hook", "6to4 relay"),
    ("https://224.0.0.1/hook", "multicast"),
    ("https://239.255.255.250/hook", "multicast"),
    ("https://240.0.0.1/hook", "reserved"),
    ("https://255.255.255.255/hook", "reserved"),
    ("https://[::1]/hook", "loopback"),
    ("https://[0:0:0:0:0:0:0:1]/hook", "loopback"),
    ("https://[::]/hook", "unspecified"),
    ("https://[::127.0.0.1]/hook", "IPv4-compatible address of 127.0.0.1"),
    ("https://[::10.0.0.1]/hook", "IPv4-compatible address of 10.0.0.1"),
    ("https://[::8.8.8.8]/hook", "IPv4-compatible"),
    ("https://[::ffff:127.0.0.1]/hook", "IPv4-mapped address of 127.0.0.1"),
    ("https://[::ffff:7f00:1]/hook", "IPv4-mapped address of 127.0.0.1"),
    ("https://[0:0:0:0:0:ffff:7f00:1]/hook", "IPv4-mapped address of 127.0.0.1"),
    ("https://[::ffff:10.0.0.1]/hook", "private network"),
    ("https://[::ffff:169.254.169.254]/hook", "link-local"),
    ("https://[::ffff:0.0.0.0]/hook", "unspecified"),
    ("https://[::ffff:0:7f00:1]/hook", "IPv4-translated address of 127.0.0.1"),
    ("https://[::ffff:0:a00:1]/hook", "IPv4-translated address of 10.0.0.1"),
    ("https://[::ffff:0:808:808]/hook", "IPv4-translated"),
    ("https://[2002:7f00:1::]/hook", "6to4 address of 127.0.0.1"),
    ("https://[2002:c0a8:101::1]/hook", "6to4 address of 192.168.1.1"),
    ("https://[2002:a9fe:a9fe::1]/hook", "6to4"),
    ("https://[2002:808:808::1]/hook", "6to4"),
    ("https://[64:ff9b::7f00:1]/hook", "NAT64 address of 127.0.0.1"),
    ("https://[64:ff9b::a9fe:a9fe]/hook", "NAT64 address of 169.254.169.254"),
    ("https://[64:ff9b::808:808]/hook", "NAT64"),
    ("https://[64:ff9b:1::a00:1]/hook", "NAT64"),
    ("https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook", "Teredo"),
    ("https://[fec0::1]/hook", "site-local"),
    ("https://[feff::1]/hook", "site-local"),
    ("https://[fc00::1]/hook", "private network"),
    ("https://[fd12:3456::1]/hook", "private network"),
    ("https://[fe80::1]/hook", "link-local"),
    ("https://[ff02::1]/hook", "multicast"),
    ("https://[ff05::2]/hook", "multicast"),
    ("https://[2001:db8::1]/hook", "documentation"),
    ("https://[3fff::1]/hook", "documentation"),
    ("https://[2001:2::1]/hook", "reserved"),
    ("https://[2001:10::1]/hook", "reserved"),
    ("https://[2001:20::1]/hook", "reserved"),
    ("https://[100::1]/hook", "discard-only"),
    ("https://[5f00::1]/hook", "reserved"),
    ("https://[4000::1]/hook", "reserved"),
]

# Spellings the resolver (not ipaddress) turns into an address, as getaddrinfo does.
OBFUSCATED = [
    ("https://127.1/hook", "127.0.0.1"),
    ("https://2130706433/hook", "127.0.0.1"),
    ("https://0x7f000001/hook", "127.0.0.1"),
    ("https://0x7f.1/hook", "127.0.0.1"),
    ("https://0177.0.0.1/hook", "127.0.0.1"),
    ("https://017700000001/hook", "127.0.0.1"),
    ("https://10.1/hook", "10.0.0.1"),
    ("https://0/hook", "0.0.0.0"),
    ("https://0xa9.0xfe.0xa9.0xfe/hook", "169.254.169.254"),
]

NAMES = [(f"https://{name}/hook", name) for name, addresses in ANSWERS.items()
         if not name.startswith("public")]

REFUSED = (FORM + LITERALS + OBFUSCATED + NAMES
           + [("https://nowhere.example/hook", "could not be found")])

ALLOWED = ["https://public.example/hook", "https://public6.example/hook",
           "https://93.184.216.34/hook", "https://[2606:4700::1111]/hook",
           "https://[::ffff:93.184.216.34]/hook", "https://public.example:8443/hook"]


def stub_getaddrinfo(host, port, *args, **kwargs):
    """getaddrinfo over ANSWERS: numeric spellings are parsed as the C library does, with no DNS."""
    host = host.strip("[]")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
        addresses = [info[4][0] for info in infos]
    except socket.gaierror:
        if host not in ANSWERS:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        addresses = ANSWERS[host]
    return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP,
             "", (a, port) if ":" not in a else (a, port, 0, 0)) for a in addresses]


def stub_resolve(host, port):
    return sorted({info[4][0] for info in stub_getaddrinfo(host, port)})


@pytest.fixture
def guarded(make_app, factory, monkeypatch):
    """An app that refuses private targets, a signed-in owner and one saved webhook to edit."""
    app = make_app(WEBHOOKS_ALLOW_PRIVATE_TARGETS=False)
    monkeypatch.setattr(urlguard, "resolve", stub_resolve)
    with app.app_context():
        org = factory.org("acme")
        factory.user(org=org)
        webhook_id = factory.webhook(org, url="https://public.example/saved").id
    client = app.test_client()
    client.post("/login", data={"email": "owner@example.com", "password": "correct horse battery"})
    return app, client, webhook_id


FORM_DATA = {"name": "CRM sync", "auth_type": "none", "event_types": ["job.created"]}


def saved_urls(app):
    with app.app_context():
        return db.session.scalars(db.select(Webhook.url).order_by(Webhook.id)).all()


def test_every_crafted_url_is_refused_inline_on_add_and_on_edit(guarded):
    """One app for all of them (an app per URL would make this the slowest unit test)."""
    app, client, webhook_id = guarded
    assert len(REFUSED) >= 80
    wrong = []
    for url, words in REFUSED:
        inline = client.post("/orgs/acme/webhooks/validate-url", data={"url": url})
        added = client.post("/orgs/acme/webhooks/new", data={**FORM_DATA, "url": url})
        edited = client.post(f"/orgs/acme/webhooks/{webhook_id}/settings", data={**FORM_DATA, "url": url})
        problem = urlguard.target_problem(url.strip(), resolver=stub_resolve) or ""
        if not (words in problem and escape(problem) in inline.get_data(as_text=True)
                and added.status_code == edited.status_code == 422
                and escape(problem) in added.get_data(as_text=True)):
            wrong.append((url, problem, added.status_code, edited.status_code))
    assert wrong == []
    assert saved_urls(app) == ["https://public.example/saved"]


@pytest.mark.parametrize("url", ALLOWED)
def test_public_addresses_are_saved(guarded, url):
    app, client, _ = guarded

    response = client.post("/orgs/acme/webhooks/new", data={**FORM_DATA, "url": url})

    assert response.status_code == 302
    assert saved_urls(app)[-1] == url


def test_refusals_say_which_address_and_why_in_plain_words():
    assert urlguard.target_problem("https://mapped.example/x", resolver=stub_resolve) == (
        "mapped.example resolves to ::ffff:127.0.0.1, which is an IPv4-mapped address of "
        "127.0.0.1, which is a loopback address (this machine); webhooks can only be sent to "
        "public HTTPS endpoints.")
    assert urlguard.target_problem("https://10.0.0.1/x") == (
        "10.0.0.1 is inside a private network; webhooks can only be sent to public HTTPS endpoints.")


# --- Connect time ------------------------------------------------------------------------------

class NoConnections:
    """Stands in for opening a socket: records where a connection would have gone, refuses it."""

    def __init__(self):
        self.attempted = []

    def __call__(self, address, *args, **kwargs):
        self.attempted.append(address)
        raise ConnectionRefusedError("no connections in this test")


@pytest.fixture
def connect_stubs(monkeypatch):
    fake_socket = types.SimpleNamespace(**{name: getattr(socket, name) for name in dir(socket)
                                           if not name.startswith("_")})
    fake_socket.getaddrinfo = stub_getaddrinfo
    monkeypatch.setattr(requests_hardened.ip_filter, "socket", fake_socket)
    connections = NoConnections()
    monkeypatch.setattr(urllib3.util.connection, "create_connection", connections)
    sender = Sender(SenderSettings(allow_private=False, connect_timeout=1, total_timeout=2))
    yield sender, connections
    sender.close()


# A host answering a public address first is connected to on that address (requests-hardened
# pins the first answer), so mixed.example is refused when saved, not when connecting.
ADDRESS_CLASSES = ([url for url, _ in LITERALS] + [url for url, _ in OBFUSCATED]
                   + [url for url, name in NAMES if name != "mixed.example"])


@pytest.mark.parametrize("url", ADDRESS_CLASSES)
def test_every_refused_address_class_is_refused_at_connect_time_too(connect_stubs, url):
    sender, connections = connect_stubs

    outcome = sender.send(url, b"{}", [])

    assert connections.attempted == []
    assert outcome.status is None and outcome.error.startswith("Blocked: "), outcome.error
    assert outcome.error.endswith("webhooks can only be sent to public HTTPS endpoints.")


@pytest.mark.parametrize("url", ALLOWED)
def test_public_addresses_pass_the_connect_time_filter(connect_stubs, url):
    sender, connections = connect_stubs

    outcome = sender.send(url, b"{}", [])

    assert outcome.error == "Connection refused"
    [(address, port)] = connections.attempted
    assert urlguard.is_public_address(address)


def test_a_blocked_attempt_names_the_host_its_address_and_the_reason(connect_stubs):
    sender, _ = connect_stubs

    outcome = sender.send("https://nat64.example/hook", b"{}", [])

    assert outcome.error == (
        "Blocked: nat64.example resolves to 64:ff9b::a9fe:a9fe, which is a NAT64 address of "
        "169.254.169.254, reached through a translator; webhooks can only be sent to public "
        "HTTPS endpoints.")


@settings(max_examples=2000, deadline=None)
@given(st.ip_addresses())
def test_our_decision_refuses_everything_requests_hardened_refuses(address):
    """So at connect time (both filters in turn) exactly our decision applies."""
    fake_socket = types.SimpleNamespace(**{name: getattr(socket, name) for name in dir(socket)
                                           if not name.startswith("_")})
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    fake_socket.getaddrinfo = lambda *a, **k: [(family, socket.SOCK_STREAM, 6, "", (str(address), 443))]
    original = requests_hardened.ip_filter.socket
    requests_hardened.ip_filter.socket = fake_socket
    try:
        requests_hardened.ip_filter.get_ip_address("host.example", 443, allow_loopback=False)
        theirs_refuses = False
    except requests_hardened.ip_filter.InvalidIPAddress:
        theirs_refuses = True
    finally:
        requests_hardened.ip_filter.socket = original
    if theirs_refuses:
        assert not urlguard.is_public_address(address)


@pytest.mark.parametrize("network", ["10.0.0.0/8", "127.0.0.0/8", "fc00::/7", "::ffff:0:0/96"])
def test_the_decision_covers_whole_ranges_not_just_their_first_address(network):
    net = ipaddress.ip_network(network)
    samples = [net[0], net[1], net[-2], net[-1], net[net.num_addresses // 2]]
    if network == "::ffff:0:0/96":
        assert all(urlguard.is_public_address(a) == urlguard.is_public_address(a.ipv4_mapped)
                   for a in samples)
    else:
        assert not any(urlguard.is_public_address(a) for a in samples)
