"""Key rotation: credentials stored under a previous key stay readable, `keys rotate` moves them to
the current key, `keys check` counts them per key; sessions and CSRF tokens honour fallbacks."""
import base64
import hashlib
import re

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from tests.conftest import PASSWORD, Factory
from webhooks import claims, config, crypto, keys
from webhooks.extensions import db
from webhooks.models import Organization, Webhook, utcnow

KEY_VARIABLES = ("SECRET_KEY", "SECRET_KEY_FALLBACKS", "WEBHOOKS_CREDENTIALS_KEY",
                 "WEBHOOKS_CREDENTIALS_KEY_FALLBACKS", "WEBHOOKS_ENV")


def legacy_encrypt(secret_key, plaintext):
    """Encrypt the way the code did before key rotation existed."""
    digest = hashlib.sha256(b"webhooks-credentials:" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest)).encrypt(plaintext.encode()).decode()


# -- crypto ---------------------------------------------------------------------------------------

def test_credentials_stored_before_rotation_existed_still_decrypt():
    stored = legacy_encrypt("old-key", "whsec_abc")
    assert crypto.decrypt(("old-key",), stored) == "whsec_abc"
    assert crypto.decrypt("old-key", stored) == "whsec_abc"  # one key given as text
    assert crypto.decrypt(("new-key", "old-key"), stored) == "whsec_abc"


def test_encryption_uses_the_current_key_and_any_configured_key_decrypts():
    stored = crypto.encrypt(("new-key", "old-key"), "pa ss:wörd")
    assert crypto.decrypt(("new-key",), stored) == "pa ss:wörd"
    assert crypto.key_index(("new-key", "old-key"), stored) == 0
    with pytest.raises(crypto.UnreadableCredential):
        crypto.decrypt(("old-key",), stored)


def test_without_the_key_it_was_encrypted_with_decryption_fails_clearly():
    stored = crypto.encrypt("old-key", "whsec_abc")
    with pytest.raises(ValueError, match="cannot be decrypted with any configured credentials key"):
        crypto.decrypt(("new-key", "other-key"), stored)
    assert crypto.key_index(("new-key", "other-key"), stored) is None


def test_reencrypting_moves_a_credential_to_the_current_key_once():
    roots = ("new-key", "old-key")
    stored = crypto.encrypt("old-key", "whsec_abc")
    assert crypto.key_index(roots, stored) == 1
    rotated = crypto.reencrypt(roots, stored)
    assert crypto.decrypt(("new-key",), rotated) == "whsec_abc"
    assert crypto.reencrypt(roots, rotated) is None  # already current
    with pytest.raises(crypto.UnreadableCredential):
        crypto.reencrypt(("new-key",), stored)


@pytest.mark.parametrize("settings, expected", [
    ({"SECRET_KEY": "s"}, (b"s",)),
    ({"SECRET_KEY": "s", "SECRET_KEY_FALLBACKS": ["s-old", "s", "s-older"]},
     (b"s", b"s-old", b"s-older")),
    ({"SECRET_KEY": "s", "SECRET_KEY_FALLBACKS": ["s-old"], "WEBHOOKS_CREDENTIALS_KEY": "c"},
     (b"c",)),
    ({"SECRET_KEY": "s", "WEBHOOKS_CREDENTIALS_KEY": "c",
      "WEBHOOKS_CREDENTIALS_KEY_FALLBACKS": ["c-old"]}, (b"c", b"c-old")),
])
def test_credential_keys_are_the_dedicated_key_when_set_else_the_secret_key(settings, expected):
    assert crypto.credential_keys(settings) == expected


# -- configuration --------------------------------------------------------------------------------

@pytest.fixture
def environment(monkeypatch):
    for name in KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_previous_keys_are_read_from_the_environment_comma_separated(environment, tmp_path):
    environment.setenv("SECRET_KEY", "new")
    environment.setenv("SECRET_KEY_FALLBACKS", " old-1, old-2 ,")
    environment.setenv("WEBHOOKS_CREDENTIALS_KEY", "cred")
    environment.setenv("WEBHOOKS_CREDENTIALS_KEY_FALLBACKS", "cred-old")
    settings = config.from_environment(str(tmp_path))
    assert settings["SECRET_KEY_FALLBACKS"] == ["old-1", "old-2"]
    # Flask-WTF ignores SECRET_KEY_FALLBACKS; itsdangerous signs with the last of a list.
    assert config.csrf_keys(settings) == ["old-1", "old-2", "new"]
    assert settings["WEBHOOKS_CREDENTIALS_KEY"] == "cred"
    assert settings["WEBHOOKS_CREDENTIALS_KEY_FALLBACKS"] == ["cred-old"]


def test_without_previous_keys_nothing_changes(environment, tmp_path):
    environment.setenv("SECRET_KEY", "only")
    settings = config.from_environment(str(tmp_path))
    assert settings["SECRET_KEY_FALLBACKS"] == [] and settings["WEBHOOKS_CREDENTIALS_KEY"] is None
    assert config.csrf_keys(settings) is None  # Flask-WTF then uses SECRET_KEY itself
    assert crypto.credential_keys(settings) == (b"only",)


def test_credentials_fallbacks_without_a_credentials_key_are_refused(environment, tmp_path):
    environment.setenv("SECRET_KEY", "s")
    environment.setenv("WEBHOOKS_CREDENTIALS_KEY_FALLBACKS", "c-old")
    with pytest.raises(RuntimeError, match="WEBHOOKS_CREDENTIALS_KEY_FALLBACKS: set without"):
        config.from_environment(str(tmp_path))


# -- the model and the delivery path --------------------------------------------------------------

def keyed(make_app, secret_key, *fallbacks, **settings):
    """An app over the test database whose SECRET_KEY is secret_key, with these fallbacks."""
    return make_app(SECRET_KEY=secret_key, SECRET_KEY_FALLBACKS=list(fallbacks), **settings)


def make_webhooks(app, deleted=False):
    """Under app's keys: a Basic Auth webhook, one without auth and, if asked, a deleted one."""
    with app.app_context():
        factory = Factory()
        org = db.session.scalar(db.select(Organization).filter_by(slug="acme")) \
            or factory.org("acme")
        hooks = [factory.webhook(org, name="Basic", auth_type="basic", basic_username="hooks",
                                 basic_password="pa ss:wörd"),
                 factory.webhook(org, name="Plain")]
        if deleted:
            hooks.append(factory.webhook(org, name="Gone", active=False, auth_type="basic",
                                         basic_username="old", basic_password="old-pw",
                                         deleted_at=utcnow()))
        return [(hook.id, hook.signing_secret, hook.basic_password) for hook in hooks]


def stored(app):
    """Return {webhook id: (secret ciphertext, password ciphertext, updated_at)}."""
    with app.app_context():
        rows = db.session.execute(text("SELECT id, secret_encrypted, basic_password_encrypted, "
                                       "updated_at FROM webhooks")).all()
        return {row[0]: tuple(row[1:]) for row in rows}


def plaintexts(app):
    with app.app_context():
        return sorted((hook.id, hook.signing_secret, hook.basic_password)
                      for hook in db.session.scalars(db.select(Webhook)))


def test_a_webhook_saved_under_the_old_key_reads_with_the_old_key_as_fallback(make_app):
    originals = make_webhooks(keyed(make_app, "key-a"))
    assert plaintexts(keyed(make_app, "key-b", "key-a")) == sorted(originals)
    with pytest.raises(crypto.UnreadableCredential):
        plaintexts(keyed(make_app, "key-b"))


def test_a_webhook_saved_during_a_rotation_uses_the_new_key(make_app):
    rotating = keyed(make_app, "key-b", "key-a")
    [(webhook_id, secret, password), _] = make_webhooks(rotating)
    assert plaintexts(keyed(make_app, "key-b"))[0] == (webhook_id, secret, password)


def test_the_delivery_cache_forgets_a_secret_once_its_key_is_removed(make_app):
    ciphertext = crypto.encrypt("key-a", "whsec_cached")
    with keyed(make_app, "key-b", "key-a").app_context():
        assert claims._decrypt(ciphertext) == "whsec_cached"
    with keyed(make_app, "key-b").app_context():  # the same SECRET_KEY, the fallback gone
        with pytest.raises(crypto.UnreadableCredential):
            claims._decrypt(ciphertext)


# -- flask keys rotate | check --------------------------------------------------------------------

def run(app, *args):
    # `flask` pushes the app context for an app's commands; the test runner leaves it to us.
    with app.app_context():
        return app.test_cli_runner().invoke(args=["keys", *args])


def test_keys_rotate_reencrypts_every_credential_deleted_webhooks_included(make_app):
    originals = make_webhooks(keyed(make_app, "key-a"), deleted=True)
    rotating = keyed(make_app, "key-b", "key-a")
    before = stored(rotating)

    result = run(rotating, "rotate", "--batch-size", "2")

    assert result.exit_code == 0, result.output
    assert "Re-encrypted 5 credentials with the current key (SECRET_KEY); 0 already used it." \
        in result.output
    after = stored(rotating)
    for webhook_id, (secret, password, updated_at) in before.items():
        assert after[webhook_id][0] != secret
        assert (after[webhook_id][1] is None) == (password is None)
        assert after[webhook_id][2] == updated_at  # re-encrypting is no edit
    assert plaintexts(keyed(make_app, "key-b")) == sorted(originals)
    again = run(rotating, "rotate")
    assert again.exit_code == 0, again.output
    assert "Re-encrypted 0 credentials with the current key (SECRET_KEY); 5 already used it." \
        in again.output
    assert stored(rotating) == after


def test_keys_rotate_dry_run_counts_and_changes_nothing(make_app):
    make_webhooks(keyed(make_app, "key-a"))
    make_webhooks(keyed(make_app, "key-b"))
    rotating = keyed(make_app, "key-b", "key-a")
    before = stored(rotating)

    result = run(rotating, "rotate", "--dry-run")

    assert result.exit_code == 0, result.output
    assert "Would re-encrypt 3 credentials; 3 already use the current key (SECRET_KEY)." \
        in result.output
    assert stored(rotating) == before


def test_keys_rotate_refuses_when_a_credential_is_unreadable_and_changes_nothing(make_app):
    make_webhooks(keyed(make_app, "key-a"))
    [(lost_id, _, _), (plain_id, _, _)] = make_webhooks(keyed(make_app, "key-unknown"))
    rotating = keyed(make_app, "key-b", "key-a")
    before = stored(rotating)

    for args in (["rotate"], ["rotate", "--dry-run"]):
        result = run(rotating, *args)
        assert result.exit_code == 1, result.output
        assert (f"No configured credentials key decrypts: webhook {lost_id} (signing secret), "
                f"webhook {lost_id} (Basic Auth password), webhook {plain_id} (signing secret)."
                ) in result.output
        assert "Nothing was changed; add the key they were encrypted with to " \
            "SECRET_KEY_FALLBACKS" in result.output
        assert stored(rotating) == before


def test_keys_check_counts_credentials_per_key(make_app):
    make_webhooks(keyed(make_app, "key-a"))
    make_webhooks(keyed(make_app, "key-b"))
    rotating = keyed(make_app, "key-b", "key-a")

    result = run(rotating, "check")

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "Credentials keys: SECRET_KEY, then 1 from SECRET_KEY_FALLBACKS.",
        "  current key (SECRET_KEY): 3 credentials",
        "  fallback 1 (SECRET_KEY_FALLBACKS): 3 credentials",
        "3 credentials need a fallback key: run `flask --app app keys rotate` before removing any.",
    ]
    run(rotating, "rotate")
    result = run(rotating, "check")
    assert "  current key (SECRET_KEY): 6 credentials" in result.output
    assert "  fallback 1 (SECRET_KEY_FALLBACKS): 0 credentials" in result.output
    assert "No credential needs a fallback key." in result.output


def test_keys_check_names_the_webhooks_no_key_decrypts(make_app):
    make_webhooks(keyed(make_app, "key-b"))
    [(lost_id, _, _), _] = make_webhooks(keyed(make_app, "key-a"))
    result = run(keyed(make_app, "key-b"), "check")
    assert result.exit_code == 1
    assert "Credentials key: SECRET_KEY (SECRET_KEY_FALLBACKS is empty)." in result.output
    assert "  current key (SECRET_KEY): 3 credentials" in result.output
    assert (f"No configured credentials key decrypts: webhook {lost_id} (signing secret), "
            f"webhook {lost_id} (Basic Auth password), webhook {lost_id + 1} (signing secret)."
            ) in result.output
    assert "Add the key they were encrypted with to SECRET_KEY_FALLBACKS." in result.output


def test_a_dedicated_credentials_key_rotates_apart_from_the_secret_key(make_app):
    originals = make_webhooks(keyed(make_app, "session-1"))
    moving = make_app(SECRET_KEY="session-2", WEBHOOKS_CREDENTIALS_KEY="credentials-1",
                      WEBHOOKS_CREDENTIALS_KEY_FALLBACKS=["session-1"])
    assert plaintexts(moving) == sorted(originals)

    result = run(moving, "rotate")

    assert result.exit_code == 0, result.output
    assert "Re-encrypted 3 credentials with the current key (WEBHOOKS_CREDENTIALS_KEY)" \
        in result.output
    # From now on SECRET_KEY can change without touching stored credentials, and back again.
    for secret_key in ("session-3", "session-1"):
        app = make_app(SECRET_KEY=secret_key, WEBHOOKS_CREDENTIALS_KEY="credentials-1")
        assert plaintexts(app) == sorted(originals)
    with pytest.raises(crypto.UnreadableCredential):
        plaintexts(keyed(make_app, "session-2", "session-1"))


def test_the_current_secret_key_as_credentials_key_needs_no_reencryption(make_app):
    originals = make_webhooks(keyed(make_app, "session-1"))
    split = make_app(SECRET_KEY="session-2", WEBHOOKS_CREDENTIALS_KEY="session-1")
    assert plaintexts(split) == sorted(originals)
    assert "No credential needs a fallback key." in run(split, "check").output


def test_a_webhook_saved_while_being_rotated_is_not_overwritten(make_app):
    [(webhook_id, _, _), _] = make_webhooks(keyed(make_app, "key-a"))
    rotating = keyed(make_app, "key-b", "key-a")
    with rotating.app_context():
        read = db.session.execute(keys._select()).all()
        db.session.commit()
        db.session.get(Webhook, webhook_id).basic_password = "saved meanwhile"  # a user's edit
        db.session.commit()
        done = keys.Rotation()
        assert keys._reencrypt(crypto.credential_keys(rotating.config), read, done) == [webhook_id]
        db.session.commit()
        assert done.reencrypted == 1  # the other webhook's secret
    with keyed(make_app, "key-b").app_context():
        assert db.session.get(Webhook, webhook_id).basic_password == "saved meanwhile"


# -- sessions and CSRF ----------------------------------------------------------------------------

def signed_in_session(app):
    with app.app_context():
        Factory().user(org=Factory().org("acme"))
    client = app.test_client()
    assert client.post("/login", data={"email": "owner@example.com", "password": PASSWORD}
                       ).status_code == 302
    return client.get_cookie("session").value


def test_a_session_signed_with_the_previous_secret_key_lasts_while_that_key_is_a_fallback(make_app):
    cookie = signed_in_session(keyed(make_app, "old"))
    for app, status in [(keyed(make_app, "new", "old"), 200), (keyed(make_app, "new"), 302)]:
        client = app.test_client()
        client.set_cookie("session", cookie)
        response = client.get("/orgs/acme/webhooks/")
        assert response.status_code == status
    assert response.headers["Location"].startswith("/login")


def csrf_token(client, path):
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def test_a_form_rendered_before_the_secret_key_changed_still_posts_while_it_is_a_fallback(
        make_app, environment):
    environment.setenv("SECRET_KEY", "old")
    old = make_app(SECRET_KEY="old", WTF_CSRF_ENABLED=True)
    with old.app_context():
        Factory().user(org=Factory().org("acme"))
    client = old.test_client()
    client.post("/login", data={"email": "owner@example.com", "password": PASSWORD,
                                "csrf_token": csrf_token(client, "/login")})
    token = csrf_token(client, "/orgs/acme/webhooks/new")  # a page left open across the deploy
    cookie = client.get_cookie("session").value
    # The deploy: SECRET_KEY=new SECRET_KEY_FALLBACKS=old, read from the environment.
    environment.setenv("SECRET_KEY", "new")
    environment.setenv("SECRET_KEY_FALLBACKS", "old")
    new = make_app(SECRET_KEY="new", WTF_CSRF_ENABLED=True)
    client = new.test_client()
    client.set_cookie("session", cookie)
    assert client.get("/orgs/acme/webhooks/").status_code == 200
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    # Flask-WTF on its own would refuse it: it signs CSRF tokens with SECRET_KEY only.
    environment.delenv("SECRET_KEY_FALLBACKS")
    bare = make_app(SECRET_KEY="new", SECRET_KEY_FALLBACKS=["old"], WTF_CSRF_SECRET_KEY="new",
                    WTF_CSRF_ENABLED=True)
    client = bare.test_client()
    client.set_cookie("session", cookie)
    refused = client.post("/logout", data={"csrf_token": token})
    assert refused.status_code == 400
    assert "The CSRF token is invalid." in refused.get_data(as_text=True)
