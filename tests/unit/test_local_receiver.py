"""The local receiver's certificates and address, and verifying a delivery the way a receiver
does (webhooks.signing.verification_problem, which `listen` uses)."""
import datetime
import os
import stat
import time

from cryptography import x509
from werkzeug.datastructures import Headers

from webhooks import signing
from webhooks.local_receiver import LocalReceiver

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER = "whsec_" + "QUJD" * 8
BODY = b'{"id":"evt_1","type":"job.created","data":{}}'


def _headers(secrets=(SECRET,), timestamp=None, msg_id="msg_1", body=BODY):
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    return Headers({"webhook-id": msg_id, "webhook-timestamp": timestamp,
                    "webhook-signature": " ".join(signing.sign(s, msg_id, timestamp, body)
                                                  for s in secrets)})


def test_a_signed_delivery_verifies_and_a_tampered_one_does_not():
    now = int(time.time())
    assert signing.verification_problem([SECRET], _headers(), BODY, now) is None
    assert signing.verification_problem([SECRET], _headers(), BODY + b" ", now) == \
        "No signature matches the secret"
    assert signing.verification_problem([OTHER, SECRET], _headers(), BODY, now) is None
    assert signing.verification_problem([OTHER], _headers(), BODY, now) == \
        "No signature matches the secret"


def test_any_of_the_signatures_of_a_rotation_verifies():
    rotated = _headers(secrets=(OTHER, SECRET))
    assert signing.verification_problem([SECRET], rotated, BODY, int(time.time())) is None


def test_the_timestamp_must_be_within_five_minutes_either_way():
    now = int(time.time())
    assert signing.verification_problem([SECRET], _headers(timestamp=now - 299), BODY, now) is None
    assert signing.verification_problem([SECRET], _headers(timestamp=now - 301), BODY, now) == \
        "webhook-timestamp is 301 s old"
    assert signing.verification_problem([SECRET], _headers(timestamp=now + 400), BODY, now) == \
        "webhook-timestamp is 400 s in the future"
    assert "not a number" in signing.verification_problem(
        [SECRET], _headers(timestamp="soon"), BODY, now)


def test_missing_headers_are_named():
    assert signing.verification_problem([SECRET], Headers({}), BODY, 0) == \
        "Missing webhook-id, webhook-timestamp, webhook-signature headers"
    only_id = Headers({"webhook-id": "msg_1", "webhook-timestamp": "1"})
    assert signing.verification_problem([SECRET], only_id, BODY, 1) == \
        "Missing webhook-signature header"


def test_only_v1_signatures_count():
    headers = _headers()
    headers["webhook-signature"] = headers["webhook-signature"].replace("v1,", "v2,")
    assert signing.verification_problem([SECRET], headers, BODY, int(time.time())) is not None


def test_the_receiver_serves_its_own_address_only():
    receiver = LocalReceiver(port=5001, directory="/nowhere")
    assert receiver.serves("https://127.0.0.1:5001/webhooks")
    assert receiver.serves("https://127.0.0.1:5001")
    for other in ("https://127.0.0.1:5002/webhooks", "https://127.0.0.1/webhooks",
                  "http://127.0.0.1:5001/webhooks", "https://localhost:5001/webhooks",
                  "https://user@127.0.0.1:5001/", "https://127.0.0.1:99999/", "not a url"):
        assert not receiver.serves(other), other


def test_certificates_are_made_once_and_again_when_expired(tmp_path):
    receiver = LocalReceiver(port=5001, directory=str(tmp_path / "listen"))
    receiver.ensure_certificates()
    first = _read(receiver.ca_file)
    assert stat.S_IMODE(os.stat(receiver.key_file).st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(_read(receiver.cert_file))
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    receiver.ensure_certificates()
    assert _read(receiver.ca_file) == first  # kept

    with open(receiver.cert_file, "wb") as handle:
        handle.write(_expired_copy(cert))
    receiver.ensure_certificates()
    assert _read(receiver.ca_file) != first  # made again


def _read(path):
    with open(path, "rb") as handle:
        return handle.read()


def _expired_copy(cert):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    past = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    old = (x509.CertificateBuilder().subject_name(cert.subject).issuer_name(cert.issuer)
           .public_key(key.public_key()).serial_number(1).not_valid_before(past)
           .not_valid_after(past + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    return old.public_bytes(serialization.Encoding.PEM)
