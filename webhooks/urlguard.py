"""Where webhooks may be sent: https only, no credentials in the URL, no private addresses (SSRF)."""
import ipaddress
import socket
from urllib.parse import urlsplit

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
