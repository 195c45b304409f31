"""Public identifiers (a prefix and a time-ordered random part, like evt_01J… or msg_01J…) and
secret bearer tokens, of which only a hash is stored."""
import hashlib
import os
import secrets
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


def new_token():
    """Return a random bearer token (256 bits, URL-safe) and the hash to store for it."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token):
    """Return the SHA-256 hex digest a token is stored and looked up by."""
    return hashlib.sha256(token.encode()).hexdigest()
