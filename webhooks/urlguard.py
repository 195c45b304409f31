"""Where webhooks may be sent: https only, no credentials in the URL, no private addresses (SSRF)."""
import atexit
import ipaddress
import os
import socket
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlsplit

import certifi
from requests_hardened import Config, Manager
from requests_hardened.ip_filter import InvalidIPAddress

MAX_URL_LENGTH = 2048

NOT_HTTPS = "Webhook URL must use https:// — webhooks are never sent to non-secure URLs."
MALFORMED = "Enter a complete URL, such as https://example.com/webhooks."
TOO_LONG = f"Webhook URL must be at most {MAX_URL_LENGTH:,} characters."
HAS_CREDENTIALS = ("Remove the username and password from the URL; "
                   "choose Basic Auth under Authentication instead.")
PRIVATE = ("{host} resolves to a private, loopback or reserved address ({address}); "
           "webhooks are only sent to public internet addresses.")
UNRESOLVABLE = "The host {host} could not be found (DNS lookup failed)."


def is_public_address(address):
    """Return whether an IP address is publicly routable (IPv4-mapped IPv6 unwrapped)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(host, port):
    """Return the distinct IP addresses host resolves to."""
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return sorted({info[4][0] for info in infos})


def url_problem(url):
    """Return what is wrong with the URL's form (scheme, length, credentials), or None."""
    if len(url) > MAX_URL_LENGTH:
        return TOO_LONG
    try:
        parts = urlsplit(url)
        parts.port  # raises ValueError on a bad port
    except ValueError:
        return MALFORMED
    if parts.scheme.lower() != "https":
        return NOT_HTTPS if parts.scheme else MALFORMED
    if not parts.hostname or any(c.isspace() for c in url):
        return MALFORMED
    if parts.username is not None or parts.password is not None:
        return HAS_CREDENTIALS
    return None


def target_problem(url, allow_private=False, resolver=resolve):
    """Return why webhooks may not be sent to url (form, then DNS and address checks), or None."""
    problem = url_problem(url)
    if problem or allow_private:
        return problem
    parts = urlsplit(url)
    host = parts.hostname
    try:
        addresses = resolver(host, parts.port or 443)
    except (socket.gaierror, UnicodeError, OSError):
        return UNRESOLVABLE.format(host=host)
    blocked = [a for a in addresses if not is_public_address(a)]
    if blocked and len(blocked) == len(addresses):
        return PRIVATE.format(host=host, address=", ".join(blocked))
    return None


# --- At connect time -------------------------------------------------------------------------
# The save-time check above can be outwitted by DNS that changes its answer (rebinding), so
# every request also goes through requests-hardened: it resolves the host once, refuses a
# private/loopback/reserved answer, and connects to that very address (Host, SNI and the
# certificate check stay on the name).

BLOCKED = "Host resolves to a private address (blocked)"


def hardened_session(allow_private=False, connect_timeout=5, read_timeout=15):
    """Return a requests session that never follows redirects and pins a checked address."""
    config = Config(
        # allow_loopback in requests-hardened only lets 127/8 and ::1 through, not 10/8 or
        # 192.168/16; WEBHOOKS_ALLOW_PRIVATE_TARGETS means all of them, so the filter is off.
        ip_filter_enable=not allow_private,
        ip_filter_allow_loopback_ips=False,
        never_redirect=True,
        default_timeout=(connect_timeout, read_timeout),
    )
    session = Manager(config).get_session()
    # Proxies and CA bundles from the environment would bypass the pinned address or
    # replace our bundle: the caller sets verify explicitly.
    session.trust_env = False
    return session


def is_blocked_error(exc):
    """Return whether a requests exception is the connect-time address filter refusing a host."""
    return isinstance(exc, InvalidIPAddress)


_bundles = {}
_bundles_lock = threading.Lock()


def public_ca_bundle():
    """Return the system's CA file when the environment names one, else certifi's."""
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        path = os.environ.get(name)
        if path and os.path.isfile(path):
            return path
    return certifi.where()


def ca_bundle(extra=None):
    """Return a CA file with the public CAs, plus the extra bundle's CAs when one is given."""
    base = public_ca_bundle()
    if not extra:
        return base
    key = (base, extra, os.path.getmtime(extra))
    with _bundles_lock:
        if key not in _bundles:
            combined = Path(base).read_bytes() + b"\n" + Path(extra).read_bytes()
            fd, path = tempfile.mkstemp(prefix="webhooks-ca-", suffix=".pem")
            with os.fdopen(fd, "wb") as handle:
                handle.write(combined)
            atexit.register(_remove_quietly, path)
            _bundles[key] = path
        return _bundles[key]


def _remove_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass
