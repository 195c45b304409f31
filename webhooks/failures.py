"""Why an attempt failed, as a category that statistics count and notices name, and what the
endpoint's owner should do about it.

Plain Python: no Flask, no models. `webhooks.sender` decides the category of each attempt
where it words the error; `classify` recovers it from what older stored attempts kept.
"""
import re
import string
from urllib.parse import urlsplit

from . import urlguard

SUCCESS = "success"
HTTP_4XX = "http_4xx"
HTTP_5XX = "http_5xx"
REDIRECT = "redirect"
TIMEOUT = "timeout"
CONNECTION = "connection"
TLS = "tls"
DNS = "dns"
BLOCKED = "blocked"

# Every failure category, in the order statistics list them.
FAILURES = (HTTP_4XX, HTTP_5XX, REDIRECT, TIMEOUT, CONNECTION, TLS, DNS, BLOCKED)
CATEGORIES = (SUCCESS, *FAILURES)

LABELS = {
    SUCCESS: "Success",
    HTTP_4XX: "Client error (4xx)",
    HTTP_5XX: "Server error (5xx)",
    REDIRECT: "Redirect",
    TIMEOUT: "Timeout",
    CONNECTION: "Connection refused or reset",
    TLS: "TLS certificate or handshake",
    DNS: "Host not found (DNS)",
    BLOCKED: "Blocked address",
}


def of_status(status):
    """Return the category of an HTTP answer that came back whole.

    A status outside 2xx–5xx (a 1xx such as 101, or 600–999) counts as http_5xx: the server
    gave no final answer to a POST, and only the server can fix that.
    """
    if 200 <= status < 300:
        return SUCCESS
    if 300 <= status < 400:
        return REDIRECT
    if 400 <= status < 500:
        return HTTP_4XX
    return HTTP_5XX


# The beginnings of the error texts webhooks.sender writes, and their categories.
_ERRORS = tuple((re.compile(pattern), category) for pattern, category in (
    (r"Redirect \(\d+\) not followed: ", REDIRECT),
    (r"Timed out after ", TIMEOUT),
    (r"TLS ", TLS),
    (r"The host .* could not be found \(DNS lookup failed\)", DNS),
    (r"Blocked: ", BLOCKED),
    (r"Connection ", CONNECTION),
))
# urlguard's refusals of a URL's form: Sender refuses these before connecting.
_URL_FORM = frozenset({urlguard.NOT_HTTPS, urlguard.MALFORMED, urlguard.TOO_LONG,
                       urlguard.HAS_CREDENTIALS, urlguard.CONTROL_CHARACTER, urlguard.ZONE_INDEX,
                       urlguard.PORT_ZERO})


def classify(status, error, succeeded):
    """Return the category of a stored attempt from its status, error text and success."""
    if succeeded:
        return SUCCESS
    if error is not None:
        if error in _URL_FORM or urlguard.ONLY_PUBLIC in error:
            return BLOCKED
        for pattern, category in _ERRORS:
            if pattern.match(error):
                return category
    if status is not None:
        return of_status(status)
    return CONNECTION


# What to fix, per category: (category, when, template). The first rule that applies wins.
# `when` is None, the statuses it covers, or words the error text contains; a rule applies
# only if every field its template names is known.
_ADVICE = (
    (HTTP_4XX, {401, 403}, "Your server answered {status}: check the authentication set on this "
                           "webhook, and that your endpoint accepts our requests (IP allow-lists, "
                           "firewalls)."),
    (HTTP_4XX, {404}, "Your server answered 404 to {url}: check the URL's path."),
    (HTTP_4XX, {410}, "Your server answered 410 Gone: the endpoint asked us to stop, so the "
                      "webhook is turned off. Turn it back on once the endpoint takes events again."),
    (HTTP_4XX, {413}, "Your server answered 413: raise its request body size limit."),
    (HTTP_4XX, {429}, "Your server answered 429: raise its rate limit for our requests."),
    (HTTP_4XX, None, "Your server answered {status}: it refused the request; its logs or the "
                     "response body say why."),
    (HTTP_4XX, None, "Your server refused the request: its logs or the response body say why."),
    (HTTP_5XX, range(500, 600), "Your server answered {status}: check its logs for the error."),
    (HTTP_5XX, None, "Your server answered {status}, which is not a final answer: it should "
                     "answer 2xx once it has the event."),
    (HTTP_5XX, None, "Your server failed to answer: check its logs for the error."),
    (REDIRECT, None, "Your server answered {status} to {url}: update the Webhook URL to where "
                     "it redirects ({location})."),
    (REDIRECT, None, "Your server redirects {url} without saying where to: webhooks never "
                     "follow redirects, so set the Webhook URL to the endpoint itself."),
    (TIMEOUT, "connecting to", "Nothing accepted a connection on {address} in time: check that "
                               "your server is up and that its firewall lets our requests in."),
    (TIMEOUT, None, "Nothing answered within {timeout} s: your endpoint should answer first and "
                    "process the event later."),
    (CONNECTION, "refused", "Nothing is listening on {address}: check that your server is "
                            "running and that the Webhook URL has the right port."),
    (CONNECTION, "reset", "Your server closed the connection before answering: check its logs "
                          "and any proxy or firewall in front of it."),
    (CONNECTION, None, "We could not talk to {address}: check that your server is up and "
                       "reachable from the internet."),
    (TLS, "certificate has expired", "The certificate expired on {expires}: renew it."),
    (TLS, "certificate has expired", "The certificate has expired: renew it."),
    (TLS, "not yet valid", "The certificate is not valid yet: check its start date and the "
                           "server's clock."),
    (TLS, "mismatch", "The certificate is not valid for {host}: install one that names {host}."),
    (TLS, "issuer", "The certificate is not signed by an authority we trust: use a certificate "
                    "from a public certificate authority, and have the server send its "
                    "intermediate certificates too."),
    (TLS, "self-signed", "The certificate is self-signed: use a certificate from a public "
                         "certificate authority."),
    (TLS, "self signed", "The certificate is self-signed: use a certificate from a public "
                         "certificate authority."),
    (TLS, "verify failed", "The certificate of {host} did not pass our check: fix the problem "
                           "the error names."),
    (TLS, None, "The TLS handshake with {address} failed: check that the server speaks HTTPS "
                "(TLS 1.2 or later) on that port."),
    (DNS, None, "{host} does not resolve: check the host name in the Webhook URL and its DNS "
                "records."),
    (BLOCKED, "Blocked: ", "The address is private or reserved: webhooks are only sent to public "
                           "HTTPS endpoints, so use a public address."),
    (BLOCKED, urlguard.ONLY_PUBLIC, "The address is private or reserved: webhooks are only sent "
                                    "to public HTTPS endpoints, so use a public address."),
    (BLOCKED, "", "{error}"),  # urlguard's refusal of the URL's form already says what to do
    (BLOCKED, None, "The address is private or reserved: webhooks are only sent to public "
                    "HTTPS endpoints, so use a public address."),
)
_REDIRECT = re.compile(r"Redirect \((\d+)\) not followed: Location (.*)\Z", re.S)


def advice(category, *, url, status=None, error=None, timeout_seconds=15,
           certificate_expires_at=None, location=None):
    """Return what the endpoint's owner should do after a failure, or None after a success."""
    if category == REDIRECT and error is not None and (found := _REDIRECT.match(error)):
        status = status if status is not None else int(found[1])
        location = location or found[2]
    host, port = _host_and_port(url)
    known = {
        "url": url, "status": status, "error": error, "host": host,
        "address": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "timeout": f"{timeout_seconds:g}",
        "location": None if location in (None, "", "(none)") else location,
        "expires": certificate_expires_at and certificate_expires_at.date().isoformat(),
    }
    for rule_category, when, template in _ADVICE:
        if rule_category == category and _applies(when, status, error) and all(
                known[name] is not None for _, name, _, _ in string.Formatter().parse(template)
                if name):
            return template.format(**known)
    return None


def explain(category, *, url, status=None, error=None, timeout_seconds=15,
            certificate_expires_at=None):
    """Return (category, label, what to fix) of a failure. A category of None (an attempt
    recorded before categories existed) is classified from the status and error."""
    if category in (None, SUCCESS):
        category = classify(status, error, False)
    return category, LABELS.get(category, "Failure"), advice(
        category, url=url, status=status, error=error, timeout_seconds=timeout_seconds,
        certificate_expires_at=certificate_expires_at)


def _applies(when, status, error):
    if when is None:
        return True
    if isinstance(when, str):
        return error is not None and when.lower() in error.lower()
    return status in when


def _host_and_port(url):
    try:
        parts = urlsplit(url)
        return parts.hostname or url, parts.port or 443
    except ValueError:
        return url, 443
