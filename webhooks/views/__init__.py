"""Browser views, one blueprint per module, and the one way they answer htmx requests."""
import json

from flask import make_response
from werkzeug.routing import BaseConverter

from ..extensions import htmx
from ..models import Organization

# Ids are 64-bit columns: a larger number in a URL does not match the route (404) instead of
# overflowing the database driver.
MAX_ID = 2 ** 63 - 1
ID = f"int(max={MAX_ID})"


class SlugConverter(BaseConverter):
    """An organization's slug. Anything else (a NUL above all, which PostgreSQL refuses in a
    query) does not match: 404."""

    regex = Organization.SLUG_PATTERN


class HostUserIdConverter(BaseConverter):
    """The host application's id of a person in a path: 1-255 printable ASCII characters."""

    regex = r"[!-.0-~]{1,255}"


def wants_fragment():
    """Return whether to answer with a fragment: an htmx swap, not a history restore (which
    needs the whole page)."""
    return bool(htmx) and not htmx.history_restore_request


def respond(body, status=None, *, trigger=None, headers=None):
    """Return the response of a view that answers htmx and plain requests differently.

    Vary: HX-Request keeps the two forms apart in caches. trigger is {event name: detail}: htmx
    fires each event on the page once the response is in (ids travel in the detail, as in
    {"deliveryChanged": {"id": 42}}).
    """
    response = make_response(body) if status is None else make_response(body, status)
    response.vary.add("HX-Request")
    if trigger:
        response.headers["HX-Trigger"] = json.dumps(trigger)
    response.headers.update(headers or {})
    return response
