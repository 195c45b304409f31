"""Browser views, one blueprint per module."""
from werkzeug.routing import BaseConverter

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
