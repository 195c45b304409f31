"""The receiving code is shown where customers look for it: every platform's file, whole, on the
event reference page and in the README (so neither drifts from the files the suite runs)."""
from pathlib import Path

from markupsafe import escape

from webhooks import receiving

README = Path(__file__).resolve().parents[2] / "README.md"
EXPECTED = ("Python", "Node.js", "Ruby", "PHP", "Go", "C#", "Java", "Salesforce Apex",
            "NetSuite SuiteScript 2.1")


def test_every_platform_asked_for_has_a_snippet():
    assert tuple(p.name for p in receiving.PLATFORMS) == EXPECTED
    for platform in receiving.PLATFORMS:
        text = receiving.source(platform)
        assert len(text.splitlines()) > 15, platform.name
        assert "webhook-signature" in text.lower() and "webhook-id" in text.lower(), platform.name


def test_the_reference_page_shows_every_snippet_whole(client, owner):
    page = client.get("/orgs/acme/webhooks/events").get_data(as_text=True)
    for platform in receiving.PLATFORMS:
        assert f'id="receiving-{platform.key}"' in page
        assert str(escape(receiving.source(platform))) in page, platform.name


def test_the_readme_carries_every_snippet_verbatim():
    readme = README.read_text(encoding="utf-8")
    for platform in receiving.PLATFORMS:
        assert receiving.source(platform).strip() in readme, platform.name
