"""Public identifiers: a prefix and a time-ordered random part, like evt_01J… or msg_01J…."""
import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32


def _encode(number, length):
    chars = []
    for _ in range(length):
        number, rem = divmod(number, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def new_id(prefix):
    """Return prefix_ + a 26-character ULID (48-bit ms timestamp, 80 random bits)."""
    stamp = _encode(int(time.time() * 1000), 10)
    rand = _encode(int.from_bytes(os.urandom(10), "big"), 16)
    return f"{prefix}_{stamp}{rand}"
