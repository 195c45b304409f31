"""Headless Chromium (Debian's) driving the app served by a real HTTP server in a thread."""
from pathlib import Path

import pytest

from tests.support.servers import app_server, serving

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": ["--disable-gpu", "--disable-quic", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"],
    }


@pytest.fixture
def database():
    """Browser tests run on SQLite only; the database rules are covered on both elsewhere."""
    return "sqlite"


@pytest.fixture
def live_server(app):
    """Serve the test app on 127.0.0.1 in a thread; yield its base URL."""
    with serving(app_server(app)) as server:
        yield f"http://127.0.0.1:{server.server_port}"


@pytest.fixture
def screenshot(page):
    """Save a full-page screenshot under docs/screenshots/ (shown in the README)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name):
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return take
