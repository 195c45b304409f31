"""A webhook's own request headers (an API key its receiver expects, a tenant id): the rules a
name and a value must follow, shared by the form and the API.

Values are credentials as often as not: they are stored encrypted (Webhook.custom_headers),
never shown back, and masked in the attempt log (signing.masked).
"""
import re

MAX_HEADERS = 20
MAX_LENGTH = 1024  # bytes, for a name and for a value

# RFC 9110 field names are tokens.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Visible ASCII with spaces and tabs inside: nothing a server could read as a line break.
_VALUE = re.compile(r"[\t\x20-\x7e]*")

# Headers this service sets itself, or that describe the connection rather than the request.
_RESERVED = {"content-type", "content-length", "host", "user-agent", "connection", "keep-alive",
             "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer",
             "transfer-encoding", "upgrade", "expect"}

TOO_MANY = f"Add at most {MAX_HEADERS} custom headers."
NAME_REQUIRED = "Enter the header's name."
VALUE_REQUIRED = "Enter the header's value."


def name_problem(name, *, basic_auth=False):
    """Return why name cannot be a custom header, or None."""
    lowered = name.lower()
    if len(name.encode()) > MAX_LENGTH:
        return f"A header name must be at most {MAX_LENGTH:,} bytes."
    if not _TOKEN.fullmatch(name):
        return ("A header name may hold only letters, digits and !#$%&'*+-.^_`|~ "
                "(no spaces, colons or control characters).")
    if lowered.startswith("webhook-"):
        return f"{name} is reserved: the webhook-* headers carry the signature."
    if lowered == "authorization" and basic_auth:
        return "Authorization is set by Basic Auth: choose No Auth to send your own."
    if lowered in _RESERVED:
        return f"{name} is set by the service and cannot be replaced."
    return None


def value_problem(value):
    """Return why value cannot be a header's value, or None."""
    if len(value.encode()) > MAX_LENGTH:
        return f"A header value must be at most {MAX_LENGTH:,} bytes."
    if not _VALUE.fullmatch(value):
        return ("A header value may hold only printable ASCII characters and spaces "
                "(no line breaks or other control characters).")
    if value != value.strip():
        return "A header value cannot start or end with a space."
    return None


def problems(pairs, *, basic_auth=False):
    """Return [(index, "name" or "value", message)] for [(name, value), ...] in given order;
    [(None, None, TOO_MANY)] for more than MAX_HEADERS."""
    if len(pairs) > MAX_HEADERS:
        return [(None, None, TOO_MANY)]
    found, seen = [], {}
    for index, (name, value) in enumerate(pairs):
        problem = name_problem(name, basic_auth=basic_auth) if name else NAME_REQUIRED
        if problem is None and name.lower() in seen:
            problem = f"{name} is already set above."
        if problem:
            found.append((index, "name", problem))
        seen.setdefault(name.lower(), index)
        problem = value_problem(value) if value else VALUE_REQUIRED
        if problem:
            found.append((index, "value", problem))
    return found


def kept(pairs, stored):
    """Return pairs with each empty value replaced by the stored value of the same name (an
    edit leaves a value empty to keep it, since stored values are never shown)."""
    stored = {name.lower(): value for name, value in stored}
    return [(name, value or stored.get(name.lower(), "")) for name, value in pairs]
