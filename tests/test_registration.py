"""One registration point: every lookup provider and every source declared once has a base-URL setting, shows
in /status, and the code asks for no provider that is not declared."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from config.lookups import PROVIDERS, KeyNeed
from config.settings import Settings
from config.sources import SourcesSettings
from handlers.monitor.sources.registry import SOURCE_CLASSES, available_sources
from storage.models import Role
from tests.harness import BotHarness

ROOT = Path(__file__).resolve().parent.parent
LOOKUP_KINDS = {"email", "domain", "ip", "url", "cve"}
# how lookup modules name a provider: env.get("x", …), env.url("x"), env.key("x"), … (DNS is no HTTP provider)
PROVIDER_USE = re.compile(r"""env\.(?:get|get_json|url|key|has_key|provider)\(\s*["'](\w+)["']""")


def test_every_provider_has_a_settings_section_with_its_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = Settings().lookups
    for provider in PROVIDERS:
        section = getattr(defaults, provider.name)
        assert section.base_url == provider.base_url and section.base_url.startswith("https://")
        assert section.key is None and section.rate_per_s == provider.rate_per_s
        assert set(provider.answers) <= LOOKUP_KINDS, provider.name
        monkeypatch.setenv(f"SOCMINT_LOOKUPS__{provider.name.upper()}__BASE_URL", f"http://127.0.0.1:9/{provider.name}")
    moved = Settings().lookups
    assert all(getattr(moved, p.name).base_url == f"http://127.0.0.1:9/{p.name}" for p in PROVIDERS)


def test_the_code_asks_only_declared_providers_and_every_declared_one_is_asked() -> None:
    used = {name for path in (ROOT / "handlers").rglob("*.py")
            for name in PROVIDER_USE.findall(path.read_text(encoding="utf-8"))}
    declared = {p.name for p in PROVIDERS}
    assert used - declared == set(), "a lookup asks a provider that config/lookups.py does not declare"
    assert declared - used == set(), "a declared provider no lookup asks"


def test_every_source_has_a_base_url_and_an_implementation() -> None:
    assert list(SOURCE_CLASSES) == list(SourcesSettings.model_fields)
    for section in SourcesSettings.model_fields:
        model = SourcesSettings.section(section)
        has_root = "feeds" if section == "rss" else "base_url"  # every feed is a whole URL of its own
        assert has_root in model.model_fields, section
        assert SOURCE_CLASSES[section] == model.implementation


async def test_every_provider_and_source_shows_in_status(bot: BotHarness) -> None:
    text = await bot.text("/status", role=Role.ADMIN)
    assert "Lookup providers" in text and "Sources" in text
    for provider in PROVIDERS:
        line = next((ln for ln in text.splitlines() if provider.title in ln and "; " in ln), None)
        assert line is not None, provider.name
        assert ", ".join(provider.answers) in line
        assert ("needs a key" in line) == (provider.key is KeyNeed.REQUIRED)
    built = available_sources(bot.services)
    assert {type(s).__module__ + ":" + type(s).__name__ for s in built.values()} == set(SOURCE_CLASSES.values())
    for source in built.values():
        assert re.search(rf"^\W*{re.escape(source.name)}\b", text, re.M), source.name


async def test_a_configured_key_shows_as_set(tmp_path: Path) -> None:
    harness = BotHarness(tmp_path, lookups={"hibp": {"key": "hibp-secret-1234"}})
    await harness.start()
    try:
        text = await harness.text("/status", role=Role.ADMIN)
    finally:
        await harness.stop()
    line = next(ln for ln in text.splitlines() if "Have I Been Pwned" in ln)
    assert "key set" in line and "hibp-secret-1234" not in text
