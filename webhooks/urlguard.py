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
from requests_hardened.ip_filter_adapter import IPFilterAdapter

from .text import control_character_in

MAX_URL_LENGTH = 2048

NOT_HTTPS = "Webhook URL must use https:// — webhooks are never sent to non-secure URLs."
MALFORMED = "Enter a complete URL, such as https://example.com/webhooks."
TOO_LONG = f"Webhook URL must be at most {MAX_URL_LENGTH:,} characters."
HAS_CREDENTIALS = ("Remove the username and password from the URL; "
                   "choose Basic Auth under Authentication instead.")
CONTROL_CHARACTER = "Webhook URL contains a control character (such as a tab or NUL): remove it."
ZONE_INDEX = ("A zone index (%…) names a network interface of this machine; "
              "webhooks can only be sent to public HTTPS endpoints.")
PORT_ZERO = "Port 0 cannot be used: give the port your endpoint listens on, or none for 443."
ONLY_PUBLIC = "webhooks can only be sent to public HTTPS endpoints."
NOT_PUBLIC = "{address} is {reason}; " + ONLY_PUBLIC
RESOLVES_TO = "{host} resolves to {address}, which is {reason}; " + ONLY_PUBLIC
UNRESOLVABLE = "The host {host} could not be found (DNS lookup failed)."


# --- Which addresses are public ----------------------------------------------------------------
# One decision for saving a URL and for connecting. It does not lean on ipaddress.is_global,
# whose tables vary between Python releases (CVE-2024-4032): the ranges are spelled out here,
# from the IANA special-purpose registries. Public means global unicast; of the IPv6 forms that
# carry an IPv4 address only the IPv4-mapped one (how dual-stack systems write IPv4) can be,
# when the address it carries is. It refuses everything requests-hardened refuses, so at
# connect time the two filters together decide exactly what this one does.

def _nets(*pairs):
    return tuple((ipaddress.ip_network(net), reason) for net, reason in pairs)


PRIVATE_NETWORK = "inside a private network"
RESERVED = "a reserved address, not a public one"

IPV4_NOT_PUBLIC = _nets(
    ("0.0.0.0/8", "the unspecified address (this network)"),
    ("10.0.0.0/8", PRIVATE_NETWORK),
    ("100.64.0.0/10", "inside a carrier-grade NAT network"),
    ("127.0.0.0/8", "a loopback address (this machine)"),
    ("169.254.0.0/16", "a link-local address (used for cloud metadata, among others)"),
    ("172.16.0.0/12", PRIVATE_NETWORK),
    ("192.0.0.0/24", RESERVED),
    ("192.0.2.0/24", "reserved for documentation"),
    ("192.88.99.0/24", "a 6to4 relay address (deprecated)"),
    ("192.168.0.0/16", PRIVATE_NETWORK),
    ("198.18.0.0/15", "reserved for benchmarking"),
    ("198.51.100.0/24", "reserved for documentation"),
    ("203.0.113.0/24", "reserved for documentation"),
    ("224.0.0.0/4", "a multicast address"),
    ("240.0.0.0/4", RESERVED),
)

GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
IPV4_MAPPED = ipaddress.ip_network("::ffff:0:0/96")
SIX_TO_FOUR = ipaddress.ip_network("2002::/16")

# Inside 2000::/3, the ranges that are not public.
IPV6_GLOBAL_NOT_PUBLIC = _nets(
    ("2001::/32", "a Teredo tunnel address"),
    ("2001::/23", RESERVED),  # benchmarking, ORCHID and other protocol assignments
    ("2001:db8::/32", "reserved for documentation"),
    ("3fff::/20", "reserved for documentation"),
)

# Outside 2000::/3 nothing is public; these get a precise reason.
IPV6_OTHER = _nets(
    ("::/128", "the unspecified address"),
    ("::1/128", "a loopback address (this machine)"),
    ("100::/64", "a discard-only address"),
    ("fc00::/7", PRIVATE_NETWORK),
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", "a site-local address (a deprecated private range)"),
    ("ff00::/8", "a multicast address"),
)

# Forms that carry an IPv4 address in their last 32 bits; never public themselves.
IPV6_CARRYING_IPV4 = _nets(
    ("::/96", "an IPv4-compatible address of {ipv4} (a deprecated form)"),
    ("::ffff:0:0:0/96", "an IPv4-translated address of {ipv4}"),
    ("64:ff9b::/96", "a NAT64 address of {ipv4}, reached through a translator"),
    ("64:ff9b:1::/48", "a NAT64 address of {ipv4}, reached through a translator"),
)


def _first_reason(ip, table):
    return next((reason for net, reason in table if ip in net), None)


def _embedded_ipv4(ip):
    """Return the IPv4 address carried in the low 32 bits of an IPv6 address."""
    return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)


def address_problem(address):
    """Return why webhooks may not be sent to an IP address (words that follow "is"), or None."""
    if isinstance(address, str):
        address = address.split("%", 1)[0]  # getaddrinfo may add a zone index to link-local
    ip = ipaddress.ip_address(address)
    if ip.version == 4:
        return _first_reason(ip, IPV4_NOT_PUBLIC)
    if ip in IPV4_MAPPED:  # how a dual-stack system writes an IPv4 address: judge that one
        inner = ip.ipv4_mapped
        reason = address_problem(inner)
        return f"an IPv4-mapped address of {inner}, which is {reason}" if reason else None
    if ip not in GLOBAL_UNICAST:
        reason = _first_reason(ip, IPV6_OTHER)
        carrying = _first_reason(ip, IPV6_CARRYING_IPV4)
        if reason is None and carrying:
            reason = carrying.format(ipv4=_embedded_ipv4(ip))
        return reason or RESERVED
    if ip in SIX_TO_FOUR:  # deprecated (RFC 7526), and requests-hardened refuses it too
        return f"a 6to4 address of {ip.sixtofour} (a deprecated tunnel form)"
    return _first_reason(ip, IPV6_GLOBAL_NOT_PUBLIC)


def is_public_address(address):
    """Return whether webhooks may be sent to an IP address."""
    return address_problem(address) is None


def resolve(host, port):
    """Return the distinct IP addresses host resolves to."""
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return sorted({info[4][0] for info in infos})


def url_problem(url):
    """Return what is wrong with the URL's form (scheme, length, port, credentials), or None."""
    if len(url) > MAX_URL_LENGTH:
        return TOO_LONG
    if control_character_in(url):
        return CONTROL_CHARACTER
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a bad port
    except ValueError:
        return MALFORMED
    if parts.scheme.lower() != "https":
        return NOT_HTTPS if parts.scheme else MALFORMED
    if not parts.hostname or any(c.isspace() for c in url):
        return MALFORMED
    if port == 0:
        return PORT_ZERO
    if "%" in parts.hostname:
        return ZONE_INDEX
    if parts.username is not None or parts.password is not None:
        return HAS_CREDENTIALS
    return None


def _literal_address(host):
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def target_problem(url, allow_private=False, resolver=resolve, local_receiver=None):
    """Return why webhooks may not be sent to url (form, then DNS and address checks), or None.

    Every address the host resolves to must be public: the connection may use any of them.
    The development receiver (webhooks.local_receiver), when given, is the one exception.
    """
    problem = url_problem(url)
    if problem or allow_private or (local_receiver and local_receiver.serves(url)):
        return problem
    parts = urlsplit(url)
    host = parts.hostname
    literal = _literal_address(host)
    if literal is not None:
        reason = address_problem(literal)
        return NOT_PUBLIC.format(address=host, reason=reason) if reason else None
    try:
        addresses = resolver(host, parts.port or 443)
    except (socket.gaierror, UnicodeError, OSError):
        return UNRESOLVABLE.format(host=host)
    for address in addresses:
        reason = address_problem(address)
        if reason:
            return RESOLVES_TO.format(host=host, address=address, reason=reason)
    return None


# --- At connect time -------------------------------------------------------------------------
# The save-time check above can be outwitted by DNS that changes its answer (rebinding), so
# every request also goes through requests-hardened: it resolves the host once, refuses a
# private/loopback/reserved answer, and connects to that very address (Host, SNI and the
# certificate check stay on the name). Its own tables miss some IPv6 forms, so our adapter
# applies address_problem to the address it pinned as well.


class BlockedAddress(InvalidIPAddress):
    """The connect-time filter refused the address a host resolved to."""

    def __init__(self, host, address, reason):
        super().__init__(address)
        self.host, self.address, self.reason = host, address, reason

    def __str__(self):
        return blocked_message(self.host, self.address, self.reason)


def blocked_message(host, address, reason):
    """Return the words Log History shows for an attempt the address filter stopped."""
    if host == address:
        return f"Blocked: {address} is {reason}; " + ONLY_PUBLIC
    return f"Blocked: {host} resolves to {address}, which is {reason}; " + ONLY_PUBLIC


class PublicOnlyAdapter(IPFilterAdapter):
    """requests-hardened's pinning adapter, refusing every address address_problem refuses."""

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host = urlsplit(request.url).hostname
        try:
            host_params, pool_kwargs = super().build_connection_pool_key_attributes(
                request, verify, cert)
        except InvalidIPAddress as exc:
            address = str(exc.args[0]) if exc.args else "?"
            raise BlockedAddress(host, address, address_problem(address) or RESERVED) from exc
        address = host_params["host"].strip("[]")
        reason = address_problem(address)
        if reason:
            raise BlockedAddress(host, address, reason)
        return host_params, pool_kwargs


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
    if not allow_private:
        for prefix in ("http://", "https://"):
            session.mount(prefix, PublicOnlyAdapter(is_https_proto=prefix == "https://"))
    # Proxies and CA bundles from the environment would bypass the pinned address or
    # replace our bundle: the caller sets verify explicitly.
    session.trust_env = False
    return session


def is_blocked_error(exc):
    """Return whether a requests exception is the connect-time address filter refusing a host."""
    return isinstance(exc, BlockedAddress)


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
