"""The pieces reports are written with: defanged free text, dates in the configured zone, report settings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from config.settings import ConfigError, load_settings
from handlers.cases.defanged_text import defang_text
from handlers.cases.human_dates import HumanDates
from handlers.cases.report_meta import report_meta
from handlers.cases.tlp import Tlp, TlpError, parse_tlp
from storage.models import Case


@pytest.mark.parametrize(("text", "shown"), [
    ("see https://Login.evil.com/a.php?x=1 now", "see hxxps://Login[.]evil[.]com/a.php?x=1 now"),
    ("www.evil.com and evil.com.", "www[.]evil[.]com and evil[.]com."),
    ("mail A@Evil.com or 8.8.8.8", "mail A[@]Evil[.]com or 8[.]8[.]8[.]8"),
    ("ftp://files.evil.com/x and http://evil[.]com/y", "fxp://files[.]evil[.]com/x and hxxp://evil[.]com/y"),
    ("already hxxps://evil[.]com/a", "already hxxps://evil[.]com/a"),
    ("notevil.com is not evil.com", "notevil[.]com is not evil[.]com"),
    ("build v1.2.3.4 of setup.py", "build v1.2.3.4 of setup.py"),  # not indicators: left alone
    ("", ""),
])
def test_free_text_is_defanged(text: str, shown: str) -> None:
    assert defang_text(text) == shown
    assert defang_text(shown) == shown  # defanging twice changes nothing


def test_dates_are_shown_in_the_zone_and_name_it() -> None:
    at = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert HumanDates().when(at) == "28 Nov 2026, 12:00 UTC"
    assert HumanDates("Europe/Berlin").when(at) == "28 Nov 2026, 13:00 CET"
    assert HumanDates("Europe/Berlin").when(datetime(2026, 7, 1, 12, tzinfo=UTC)) == "1 Jul 2026, 14:00 CEST"
    assert HumanDates("Asia/Kolkata").when(at) == "28 Nov 2026, 17:30 IST"
    assert HumanDates("America/Sao_Paulo").when(at) == "28 Nov 2026, 09:00 UTC-03:00"  # no letters for it
    assert HumanDates("Pacific/Auckland").day(at) == "29 November 2026"
    assert HumanDates().parse("2026-11-27T09:30:00+00:00") == datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
    assert HumanDates().parse("yesterday") is None


@pytest.mark.parametrize(("text", "level"), [
    ("amber", Tlp.AMBER), ("TLP:RED", Tlp.RED), ("Amber+Strict", Tlp.AMBER_STRICT), ("amber strict", Tlp.AMBER_STRICT),
    ("tlp: green", Tlp.GREEN), ("WHITE", Tlp.CLEAR),
])
def test_tlp_levels_are_read_as_analysts_write_them(text: str, level: Tlp) -> None:
    assert parse_tlp(text) is level


def test_an_unknown_tlp_level_says_which_exist() -> None:
    with pytest.raises(TlpError, match="use one of clear, green, amber, amber\\+strict, red"):
        parse_tlp("orange")


def test_report_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SOCMINT_CONFIG", str(tmp_path / "socmint.toml"))
    (tmp_path / "socmint.toml").write_text('timezone = "Asia/Tokyo"\n[reports]\nauthor = "Jane Doe"\n')
    monkeypatch.setenv("SOCMINT_REPORTS__ORGANISATION", "Example CTI")
    monkeypatch.setenv("SOCMINT_REPORTS__DEFAULT_TLP", "TLP:RED")
    settings = load_settings()
    assert (settings.reports.author, settings.reports.organisation) == ("Jane Doe", "Example CTI")
    assert settings.reports.default_tlp == "red" and settings.reports.timezone is None
    case = Case(id=1, chat_platform="telegram", chat_id=1, title="t", created_by="Ann (telegram:5)")
    meta = report_meta(case, settings)
    assert meta.dates.name == "Asia/Tokyo" and meta.tlp is Tlp.RED and not meta.tlp_chosen  # the top-level zone
    assert meta.byline == "Jane Doe, Example CTI"

    monkeypatch.setenv("SOCMINT_REPORTS__TIMEZONE", "Mars/Olympus")
    monkeypatch.setenv("SOCMINT_REPORTS__DEFAULT_TLP", "purple")
    with pytest.raises(ConfigError) as problem:
        load_settings()
    lines = str(problem.value).splitlines()
    assert any(line.startswith("invalid setting reports.timezone") and "SOCMINT_REPORTS__TIMEZONE" in line
               and "Mars/Olympus" in line for line in lines)
    assert any(line.startswith("invalid setting reports.default_tlp") and "amber+strict" in line for line in lines)
