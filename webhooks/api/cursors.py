"""Opaque pagination cursors: the position after which the next page starts (an id), encoded
so that clients pass it back rather than build it."""
import base64
import binascii

from ..views import MAX_ID


def encode(position):
    return base64.urlsafe_b64encode(f"v1:{position}".encode()).decode().rstrip("=")


def decode(cursor):
    """Return the position a cursor holds, or None if this API did not give it out."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    version, _, position = text.partition(":")
    if version != "v1" or not position.isdigit() or not 0 <= int(position) <= MAX_ID:
        return None
    return int(position)
