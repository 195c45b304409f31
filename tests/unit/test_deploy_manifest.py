"""The one-click deploy manifest (app.json) agrees with the Procfile, the settings and pyproject."""
import json
import re
import tomllib
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
APP_JSON = ROOT / "app.json"
PROCFILE = ROOT / "Procfile"
CONFIG_PY = ROOT / "webhooks" / "config.py"
PYTHON_VERSION = ROOT / ".python-version"
PYPROJECT = ROOT / "pyproject.toml"

# The config vars each add-on sets on the app when it is attached under its default name.
ADDON_VARS = {
    "heroku-postgresql": "DATABASE_URL",
    "heroku-redis": "REDIS_URL",
}
# Read by prometheus-client itself, not by webhooks/config.py.
LIBRARY_SETTINGS = {"PROMETHEUS_MULTIPROC_DIR"}
SECRETS = ("SECRET_KEY", "WEBHOOKS_INTERNAL_TOKEN", "WEBHOOKS_METRICS_TOKEN")


def manifest():
    return json.loads(APP_JSON.read_text())


def procfile():
    """Return the Procfile's processes as {name: command}."""
    processes = {}
    for line in PROCFILE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, command = line.partition(":")
            processes[name.strip()] = command.strip()
    return processes


def addon_services(app_json):
    """Return the add-on services app.json provisions (heroku-redis for "heroku-redis:mini")."""
    plans = [addon if isinstance(addon, str) else addon["plan"] for addon in app_json.get("addons", [])]
    return {plan.split(":")[0] for plan in plans}


def settings_the_app_reads():
    names = set(re.findall(r'"([A-Z][A-Z0-9_]+)"', CONFIG_PY.read_text()))
    return names | LIBRARY_SETTINGS


def test_formation_runs_every_procfile_process_but_release():
    formation = set(manifest().get("formation", {}))
    processes = set(procfile()) - {"release"}
    assert formation == processes, (
        f"app.json formation {sorted(formation)} differs from the Procfile's processes other than "
        f"release {sorted(processes)}")


def test_release_checks_the_settings_before_upgrading_the_schema():
    release = procfile().get("release")
    assert release is not None, "the Procfile has no release process"
    check, upgrade = "flask --app app check", "flask --app app db upgrade"
    assert check in release, f"the release process does not run {check!r}: {release!r}"
    assert upgrade in release, f"the release process does not run {upgrade!r}: {release!r}"
    assert release.index(check) < release.index(upgrade), (
        f"the release process upgrades the schema before checking the settings: {release!r}")


def test_every_setting_production_requires_is_provided():
    from webhooks.checks import REQUIRED_IN_PRODUCTION

    app_json = manifest()
    provided = set(app_json.get("env", {}))
    provided |= {ADDON_VARS[service] for service in addon_services(app_json) if service in ADDON_VARS}
    missing = sorted(set(REQUIRED_IN_PRODUCTION) - provided)
    assert not missing, f"app.json neither declares nor gets from an add-on: {', '.join(missing)}"


def test_every_declared_setting_is_one_the_app_reads():
    unknown = sorted(set(manifest().get("env", {})) - settings_the_app_reads())
    assert not unknown, (
        f"app.json declares settings that webhooks/config.py does not read (typo?): {', '.join(unknown)}")


def test_secrets_are_generated_per_app():
    env = manifest().get("env", {})
    for name in SECRETS:
        assert name in env, f"app.json does not declare {name}"
        assert env[name].get("generator") == "secret", f'{name} lacks "generator": "secret"'
        assert "value" not in env[name], f"{name} has a fixed value; every app must get its own"


def test_production_settings_use_rq():
    env = manifest().get("env", {})
    for name, expected in (("WEBHOOKS_ENV", "production"), ("WEBHOOKS_QUEUE", "rq")):
        value = env.get(name, {}).get("value")
        assert value == expected, f"app.json sets {name} to {value!r}, not {expected!r}"


def test_python_version_satisfies_requires_python():
    version = PYTHON_VERSION.read_text().strip()
    requires = tomllib.loads(PYPROJECT.read_text())["project"]["requires-python"]
    assert Version(version) in SpecifierSet(requires), (
        f".python-version says {version}, which pyproject.toml's requires-python {requires!r} excludes")
