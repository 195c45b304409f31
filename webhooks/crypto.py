"""Encrypt stored credentials (Basic Auth passwords, signing secrets) with a key derived from SECRET_KEY."""
import base64
import hashlib
import secrets

from cryptography.fernet import Fernet, InvalidToken


def _fernet(secret_key):
    digest = hashlib.sha256(b"webhooks-credentials:" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(secret_key, plaintext):
    """Return the ciphertext of plaintext as text, fit for a database column."""
    return _fernet(secret_key).encrypt(plaintext.encode()).decode()


def decrypt(secret_key, ciphertext):
    """Return the plaintext of a stored ciphertext; raise ValueError if the key does not match."""
    try:
        return _fernet(secret_key).decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("stored credential cannot be decrypted with this SECRET_KEY") from exc


def new_signing_secret():
    """Return a Standard Webhooks secret: whsec_ + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
