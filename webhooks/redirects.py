"""Where a `next` parameter may send the browser: only to a path on this site."""
from urllib.parse import urlsplit

from .text import control_character_in


def local_path_or(target, default):
    """Return target if it is a path on this site (no scheme, host or `//`/`\\` tricks), else default."""
    if (not target or not target.startswith("/") or target.startswith("//") or "\\" in target
            or control_character_in(target)):
        return default
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else default
