"""Encrypt stored credentials (Basic Auth passwords, signing secrets), with key rotation.

A credentials key is a root secret (WEBHOOKS_CREDENTIALS_KEY, or SECRET_KEY when that is not
set) turned into a Fernet key by sha256(b"webhooks-credentials:" + root). The first root is
current and encrypts; every root decrypts, so previous keys keep working during a rotation.
"""
import base64
import functools
import hashlib
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class UnreadableCredential(ValueError):
    """A stored credential that no configured credentials key decrypts."""


def credential_settings(config):
    """Return the names of the settings that hold the credentials keys: (current, fallbacks).

    WEBHOOKS_CREDENTIALS_KEY and its fallbacks when it is set; otherwise SECRET_KEY and
    SECRET_KEY_FALLBACKS, so that data written before the dedicated key existed stays readable.
    """
    if config.get("WEBHOOKS_CREDENTIALS_KEY"):
        return "WEBHOOKS_CREDENTIALS_KEY", "WEBHOOKS_CREDENTIALS_KEY_FALLBACKS"
    return "SECRET_KEY", "SECRET_KEY_FALLBACKS"


def credential_keys(config):
    """Return the credentials roots of a config mapping as a tuple, current first."""
    current, fallbacks = credential_settings(config)
    roots = [config[current], *(config.get(fallbacks) or ())]
    return tuple(dict.fromkeys(_bytes(root) for root in roots if root))


def _bytes(root):
    return root if isinstance(root, bytes) else root.encode()


def _keys(keys):
    # One root given as text still works, for callers written before rotation existed.
    return (_bytes(keys),) if isinstance(keys, (str, bytes)) else tuple(_bytes(k) for k in keys)


@functools.lru_cache(maxsize=64)
def _fernet(root):
    digest = hashlib.sha256(b"webhooks-credentials:" + root).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


@functools.lru_cache(maxsize=8)
def _multi_fernet(keys):
    return MultiFernet([_fernet(root) for root in keys])


def encrypt(keys, plaintext):
    """Return the ciphertext of plaintext under the current key, as text for a database column."""
    return _fernet(_keys(keys)[0]).encrypt(plaintext.encode()).decode()


def decrypt(keys, ciphertext):
    """Return the plaintext of a stored ciphertext; raise UnreadableCredential if no key fits."""
    try:
        return _multi_fernet(_keys(keys)).decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise UnreadableCredential(
            "stored credential cannot be decrypted with any configured credentials key "
            "(WEBHOOKS_CREDENTIALS_KEY or SECRET_KEY, and their fallbacks)") from exc


_remembered = {}


def decrypt_cached(keys, ciphertext):
    """Like decrypt, remembering the last few hundred plaintexts for the delivery hot path
    (Fernet costs ~40 µs each)."""
    # Keyed on every configured key, not just the current one: removing a fallback must make
    # what only it could decrypt fail here too, not live on in this cache.
    key = (keys, ciphertext)
    plain = _remembered.get(key)
    if plain is None:
        plain = decrypt(*key)
        if len(_remembered) >= 512:
            _remembered.clear()
        _remembered[key] = plain
    return plain


def key_index(keys, ciphertext):
    """Return the position of the configured key that decrypts ciphertext (0: current), or None."""
    return _open(_keys(keys), ciphertext)[0]


def reencrypt(keys, ciphertext):
    """Return ciphertext encrypted under the current key instead, or None when it already is.

    Raise UnreadableCredential when no configured key decrypts it.
    """
    keys = _keys(keys)
    index, plaintext = _open(keys, ciphertext)
    if index is None:
        raise UnreadableCredential("stored credential cannot be decrypted with any configured key")
    if index == 0:
        return None
    return _fernet(keys[0]).encrypt(plaintext).decode()


def _open(keys, ciphertext):
    """Return (position of the key that decrypts ciphertext, plaintext bytes), or (None, None)."""
    for index, root in enumerate(keys):
        try:
            return index, _fernet(root).decrypt(ciphertext.encode())
        except InvalidToken:
            continue
    return None, None


def new_signing_secret():
    """Return a Standard Webhooks secret: whsec_ + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
