"""Run schemathesis against the served OpenAPI document, with a write key, and exit non-zero
if any response is a 5xx or does not conform to the document.

Generated input chooses webhook URLs, so this must run where only loopback exists:
tests/integration/test_api_schema.py starts it with `unshare -n` (a network namespace whose
only interface is lo), where nothing it asks for can leave the machine.

    python -m tests.support.api_fuzz <work dir> [max examples]
"""
import subprocess
import sys
from pathlib import Path

from tests.support.deliveries import stored_delivery
from tests.support.servers import app_server, serving
from webhooks import apikeys
from webhooks.extensions import db
from webhooks.factory import create_app
from webhooks.models import ApiKey, Organization, Webhook

CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_headers_conformance,response_schema_conformance,negative_data_rejection")


def _app(work_dir):
    app = create_app({
        "SECRET_KEY": "fuzz-secret-key", "WEBHOOKS_QUEUE": "inline",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{work_dir / 'fuzz.sqlite3'}",
        "WEBHOOKS_API_RATE_LIMIT": "1000000 per minute", "WEBHOOKS_TIMEOUT_SECONDS": 2,
    })
    with app.app_context():
        db.create_all()
        org = Organization(slug="acme", name="Acme")
        db.session.add(org)
        db.session.commit()
        webhook = Webhook(organization_id=org.id, name="Hook", url="https://hooks.example.com/x",
                          event_types=["job.created"], is_active=True)
        db.session.add(webhook)
        db.session.commit()
        stored_delivery(webhook, state="failed")
        _, token = apikeys.create(org, "Fuzz", ApiKey.WRITE)
    return app, token


def main(work_dir, max_examples):
    app, token = _app(Path(work_dir))
    with serving(app_server(app)) as server:
        base = f"http://127.0.0.1:{server.server_port}"
        return subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "run", f"{base}/api/v1/openapi.json",
             "--url", base, "-H", f"Authorization: Bearer {token}", "--checks", CHECKS,
             "--max-examples", str(max_examples), "--seed", "1", "--workers", "1",
             "--request-timeout", "20", "--suppress-health-check", "all"],
            check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 25))
