"""The connect-time SSRF guard: the address is checked after resolution, and pinned."""
import socket
from pathlib import Path

import pytest
import requests

from webhooks import urlguard
from webhooks.sender import Sender, SenderSettings


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "2130706433", "127.1", "10.0.0.7",
                                  "169.254.169.254", "[::1]"])
def test_private_and_loopback_hosts_are_refused_at_connect_time(host):
    session = urlguard.hardened_session(allow_private=False, connect_timeout=1, read_timeout=1)

    with pytest.raises(requests.RequestException) as caught:
        session.post(f"https://{host}:{closed_port()}/hook", data=b"{}")

    assert urlguard.is_blocked_error(caught.value)
    session.close()


def test_a_send_to_loopback_says_it_was_blocked_without_connecting():
    outcome = Sender(SenderSettings(allow_private=False)).send(f"https://127.0.0.1:{closed_port()}/hook", b"{}", [])

    assert outcome.error.startswith("Blocked: 127.0.0.1 is a loopback address") and outcome.status is None


def test_private_targets_allowed_reach_the_network():
    outcome = Sender(SenderSettings(allow_private=True, connect_timeout=1)).send(
        f"https://127.0.0.1:{closed_port()}/hook", b"{}", [])

    assert outcome.error == "Connection refused"


def test_the_extra_ca_bundle_is_added_to_the_public_cas(tmp_path):
    extra = tmp_path / "local-ca.pem"
    extra.write_text("-----BEGIN CERTIFICATE-----\nlocal\n-----END CERTIFICATE-----\n")

    combined = Path(urlguard.ca_bundle(str(extra))).read_text()

    assert combined.startswith(Path(urlguard.public_ca_bundle()).read_text())
    assert combined.rstrip().endswith(extra.read_text().rstrip())
    assert urlguard.ca_bundle(None) == urlguard.public_ca_bundle()


def test_a_certificate_for_another_name_is_refused_even_from_a_trusted_ca(ca, ca_bundle):
    from tests.support.receiver import Receiver

    impostor = Receiver(ca, names=("other.example",)).start()
    sender = Sender(SenderSettings(allow_private=True, ca_bundle=ca_bundle))
    try:
        outcome = sender.send(impostor.url, b"{}", [])
    finally:
        sender.close()
        impostor.stop()

    assert outcome.error.startswith("TLS certificate verify failed: "), outcome.error
    assert "127.0.0.1" in outcome.error and impostor.requests == []
