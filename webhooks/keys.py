"""Commands: flask --app app keys check | rotate: which key reads each stored credential, and
re-encrypting them all with the current key so that previous keys can be removed.

Every encrypted column is listed in ENCRYPTED; a new one must be added there, or a rotation
would leave it behind and removing the old key would make it unreadable.
"""
from dataclasses import dataclass, field

import click
from flask import current_app

from . import crypto
from .extensions import db
from .models import Webhook

# PostgreSQL: a batch's webhook rows stay locked while they are re-encrypted (about 0.2 ms a
# row), so recording attempts to them waits at most some tens of milliseconds.
BATCH_SIZE = 200
ENCRYPTED = (("secret_encrypted", "signing secret"),
             ("previous_secret_encrypted", "previous signing secret"),
             ("basic_password_encrypted", "Basic Auth password"),
             ("headers_encrypted", "custom headers"))
_webhooks = Webhook.__table__


class UnreadableCredentials(Exception):
    """Stored credentials that no configured key decrypts: [(webhook id, what), …]."""

    def __init__(self, found, reencrypted=0):
        self.found, self.reencrypted = found, reencrypted
        shown = ", ".join(f"webhook {webhook_id} ({what})" for webhook_id, what in found[:20])
        more = f" and {len(found) - 20} more" if len(found) > 20 else ""
        super().__init__(f"No configured credentials key decrypts: {shown}{more}.")


@dataclass
class Census:
    """How many stored credentials each configured key decrypts (current key first)."""

    by_key: list[int]
    unreadable: list[tuple[int, str]] = field(default_factory=list)

    @property
    def current(self):
        return self.by_key[0]

    @property
    def behind(self):
        return sum(self.by_key[1:])


@dataclass
class Rotation:
    reencrypted: int = 0
    current: int = 0


def census(roots, batch_size=BATCH_SIZE):
    """Count the stored credentials each configured key decrypts; list those that none does."""
    found = Census([0] * len(roots))
    for rows in _batches(batch_size):
        for row in rows:
            for column, what in ENCRYPTED:
                ciphertext = getattr(row, column)
                if not ciphertext:
                    continue
                index = crypto.key_index(roots, ciphertext)
                if index is None:
                    found.unreadable.append((row.id, what))
                else:
                    found.by_key[index] += 1
    return found


def rotate(roots, batch_size=BATCH_SIZE):
    """Re-encrypt every stored credential under the current key, a short transaction per batch.

    Soft-deleted webhooks too: their rows stay, and a credential left under a removed key would
    be unreadable for good.
    Raise UnreadableCredentials before writing anything if a credential decrypts with no key.
    """
    unreadable = census(roots, batch_size).unreadable
    if unreadable:
        raise UnreadableCredentials(unreadable)
    done = Rotation()
    w = _webhooks.c
    for rows in _batches(batch_size, lock=True):
        for _ in range(5):
            ids = _reencrypt(roots, rows, done)
            db.session.commit()
            if not ids:
                break
            # Someone saved these webhooks between our read and our write: read them again.
            rows = db.session.execute(_select().where(w.id.in_(ids)).with_for_update()).all()
        else:
            raise RuntimeError(f"webhooks {ids} kept changing during the rotation; run it again")
    return done


def _select():
    w = _webhooks.c
    return db.select(w.id, *(w[column] for column, _ in ENCRYPTED)).order_by(w.id)


def _batches(batch_size, lock=False):
    """Yield the webhooks' ciphertexts by id, deleted ones included, batch_size rows at a time."""
    last = 0
    while True:
        query = _select().where(_webhooks.c.id > last).limit(batch_size)
        rows = db.session.execute(query.with_for_update() if lock else query).all()
        if not rows:
            db.session.commit()
            return
        yield rows  # a writer commits the batch it was given; a reader's transaction ends here
        if not lock:
            db.session.commit()
        last = rows[-1].id


def _reencrypt(roots, rows, done):
    """Write the rows' credentials under the current key; return the ids that changed meanwhile."""
    w = _webhooks.c
    changed = []
    for row in rows:
        values, current = {}, 0
        for column, what in ENCRYPTED:
            ciphertext = getattr(row, column)
            if not ciphertext:
                continue
            try:
                rotated = crypto.reencrypt(roots, ciphertext)
            except crypto.UnreadableCredential:
                # Written since the census by a process with other keys: stop; the batches
                # already committed are under the current key, which stays configured.
                db.session.rollback()
                raise UnreadableCredentials([(row.id, what)], done.reencrypted) from None
            if rotated is None:
                current += 1
            else:
                values[column] = rotated
        if values:
            # Only if nobody saved the webhook since we read it (SQLite takes no row locks);
            # updated_at stays: re-encrypting changes nothing anyone can see.
            unchanged = db.and_(*(w[column].is_not_distinct_from(getattr(row, column))
                                  for column, _ in ENCRYPTED))
            result = db.session.execute(
                db.update(_webhooks).where(w.id == row.id, unchanged)
                .values(**values, updated_at=w.updated_at))
            if result.rowcount != 1:
                changed.append(row.id)
                continue
        done.reencrypted += len(values)
        done.current += current
    return changed


def _settings():
    current, fallbacks = crypto.credential_settings(current_app.config)
    return crypto.credential_keys(current_app.config), current, fallbacks


@click.group("keys")
def keys():
    """Rotate the keys that encrypt stored credentials."""


@keys.command("check")
@click.option("--batch-size", default=BATCH_SIZE, show_default=True, type=click.IntRange(1))
def keys_check(batch_size):
    """Report how many stored credentials each configured key decrypts."""
    roots, current, fallbacks = _settings()
    found = census(roots, batch_size)
    if len(roots) > 1:
        click.echo(f"Credentials keys: {current}, then {len(roots) - 1} from {fallbacks}.")
    else:
        click.echo(f"Credentials key: {current} ({fallbacks} is empty).")
    click.echo(f"  current key ({current}): {found.current} credentials")
    for number, count in enumerate(found.by_key[1:], start=1):
        click.echo(f"  fallback {number} ({fallbacks}): {count} credentials")
    if found.unreadable:
        raise click.ClickException(f"{UnreadableCredentials(found.unreadable)} Add the key they "
                                   f"were encrypted with to {fallbacks}.")
    if found.behind:
        click.echo(f"{found.behind} credentials need a fallback key: run "
                   "`flask --app app keys rotate` before removing any.")
    else:
        click.echo("No credential needs a fallback key.")


@keys.command("rotate")
@click.option("--dry-run", is_flag=True, help="Count what would be re-encrypted; change nothing.")
@click.option("--batch-size", default=BATCH_SIZE, show_default=True, type=click.IntRange(1),
              help="Webhooks re-encrypted per transaction.")
def keys_rotate(dry_run, batch_size):
    """Re-encrypt every stored credential with the current key."""
    roots, current, fallbacks = _settings()
    try:
        if dry_run:
            found = census(roots, batch_size)
            if found.unreadable:
                raise UnreadableCredentials(found.unreadable)
            click.echo(f"Would re-encrypt {found.behind} credentials; "
                       f"{found.current} already use the current key ({current}).")
            return
        done = rotate(roots, batch_size)
    except UnreadableCredentials as error:
        changed = (f"Stopped after re-encrypting {error.reencrypted} other credentials (readable "
                   "with the current key)" if error.reencrypted else "Nothing was changed")
        raise click.ClickException(f"{error} {changed}; add the key they were encrypted with to "
                                   f"{fallbacks} and run this again.") from None
    click.echo(f"Re-encrypted {done.reencrypted} credentials with the current key ({current}); "
               f"{done.current} already used it.")
