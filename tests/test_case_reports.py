"""Case reports for stakeholders: executive summary, TLP 2.0 marking, author, local dates, defanged text, PDF."""

from __future__ import annotations

import asyncio
import io
import json
import re
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import cffi
import numpy as np
import pypdfium2 as pdfium
import pytest
import stix2
from PIL import Image

from handlers.cases import cli
from handlers.cases.commands import commands as case_commands
from handlers.cases.tlp import Tlp
from handlers.monitor.post import Author, Post
from storage.models import Role
from tests.harness import BotHarness

CLOCK = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # 13:00 in Berlin
REPORTS = {"author": "Jane Doe", "organisation": "Example CTI", "timezone": "Europe/Berlin"}
SUMMARY = ("A phishing kit on login.evil.com targets Example Corp customers; the registrar of evil.com was "
           "notified and a takedown is pending.\nNext: watch for new domains of the same actor.")
ISO_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}")
ANALYST, VIEWER = 2001, 2002


class Visible(HTMLParser):
    """The text a reader sees (no markup, styles or attributes), and the h2 headings in order."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.headings: list[str] = []
        self._skip = False
        self._in_h2 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip = tag in ("style", "title")
        self._in_h2 = tag == "h2"

    def handle_endtag(self, tag: str) -> None:
        self._skip = self._in_h2 = False

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.text.append(data)
        if self._in_h2:
            self.headings.append(data)

    @property
    def all(self) -> str:
        return " ".join(" ".join(self.text).split())


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[BotHarness]:
    harness = BotHarness(tmp_path, sets=[case_commands], clock=lambda: CLOCK, reports=REPORTS)
    await harness.start()
    yield harness
    await harness.stop()


async def run(bot: BotHarness, line: str, role: Role = Role.ANALYST, user_id: int = ANALYST) -> str:
    return await bot.text(line, role=role, user_id=user_id)


async def attachment(bot: BotHarness, line: str) -> tuple[str, str, bytes]:
    files = [a for r in await bot.run(line, role=Role.VIEWER, user_id=VIEWER) for a in r.attachments]
    assert len(files) == 1, line
    return files[0].filename, files[0].mime, files[0].data


async def investigated(bot: BotHarness, tlp: str = "red") -> None:
    """A case with a post full of indicators, an executive summary, a TLP marking and a note."""
    await run(bot, "/case new Phishing wave against Example Corp")

    def insert(session) -> int:  # type: ignore[no-untyped-def]
        post = Post(source="mastodon", source_id="109", created_at=datetime(2026, 11, 27, 9, 30, tzinfo=UTC),
                    text="Kit live at https://login.evil.com/verify, drops 44d88612fea8a8f36de82e1278abb02f, "
                         "mail ops@evil.com",
                    author=Author("1", "mallory", "Mallory"), url="https://infosec.example/@mallory/109")
        row = post.to_row()
        session.add(row)
        session.flush()
        return row.id

    post_id = await bot.services.db.run(insert)
    assert "Added to case" in await run(bot, f"/case add post:{post_id}")
    assert "saved" in await run(bot, f"/case summary {SUMMARY}")
    assert "now marked" in await run(bot, f"/case tlp {tlp}")
    await run(bot, "/case note Registrar of evil.com answered at 14:00")


async def test_summary_and_tlp_commands(bot: BotHarness) -> None:
    assert "no current case" in await run(bot, "/case summary Something")
    await run(bot, "/case new Summary case")
    assert "no executive summary yet" in await run(bot, "/case summary")
    assert "needs the analyst role" in await run(bot, "/case summary Mine", Role.VIEWER, VIEWER)
    assert "under 4000 characters" in await run(bot, "/case summary " + "x" * 4001)
    assert "saved" in await run(bot, "/case summary First line of the summary")
    assert "First line of the summary" in await run(bot, "/case summary")

    text = await run(bot, "/case tlp")
    assert "TLP:AMBER" in text and "configured default" in text and "TLP:AMBER+STRICT" in text  # the levels listed
    bad = await run(bot, "/case tlp purple")
    assert "'purple' is not a TLP 2.0 level" in bad and "amber+strict" in bad and "Traceback" not in bad
    assert "TLP:AMBER+STRICT" in await run(bot, "/case tlp TLP:Amber+Strict")
    assert "TLP:CLEAR" in await run(bot, "/case tlp white")  # TLP 1.0's name, read as its 2.0 successor

    show = await run(bot, "/case show", Role.VIEWER, VIEWER)
    assert "TLP:CLEAR" in show and "First line of the summary" in show and "28 Nov 2026, 13:00 CET" in show

    await run(bot, "/case close")
    assert "is closed" in await run(bot, "/case tlp red")
    assert "is closed" in await run(bot, "/case summary Too late")
    await run(bot, "/case reopen 1")
    assert "removed" in await run(bot, "/case summary --clear")
    data = json.loads((await attachment(bot, "/case export json"))[2])
    assert data["case"]["summary"] is None and data["case"]["tlp"] == "clear"
    actions = [e["action"] for e in data["events"]]
    assert actions.count("summary") == 2 and actions.count("tlp") == 2


async def test_html_report_reads_like_a_deliverable(bot: BotHarness) -> None:
    await investigated(bot, "red")
    name, mime, data = await attachment(bot, "/case export html")
    assert name.endswith(".html") and mime == "text/html"
    html = data.decode()
    page = Visible()
    page.feed(html)
    text = page.all

    # the executive summary opens the report, the marking heads and closes it and every printed page
    assert page.headings[:2] == ["Executive summary", "Case details"]
    assert text.startswith("TLP:RED For the named recipients only")
    assert text.endswith("TLP:RED For the named recipients only: no further disclosure.")
    assert '@top-right{content:"TLP:RED"' in html and '@bottom-right{content:"TLP:RED"' in html
    assert "color:#FF2B2B;background:#000" in html  # the standard's red on black
    assert text.index("A phishing kit on") < text.index("Case details")
    assert "Prepared by Jane Doe, Example CTI" in text
    assert '<meta name="author" content="Jane Doe, Example CTI">' in html

    # human dates in the configured zone, no ISO timestamps, no raw fact dumps
    assert "Exported 28 Nov 2026, 13:00 CET" in text and "27 Nov 2026, 10:30 CET" in text  # the post, local
    assert not ISO_TIMESTAMP.search(text), ISO_TIMESTAMP.search(text)
    assert "author_handle" not in text and "created_at" not in text and "{'" not in text

    # indicators defanged everywhere: summary, key post, notes, tables, change log, even the picture captions
    assert "login[.]evil[.]com targets Example Corp" in text
    assert "Kit live at hxxps://login[.]evil[.]com/verify" in text and "ops[@]evil[.]com" in text
    assert "Registrar of evil[.]com answered" in text
    for raw in ("login.evil.com", "evil.com", "https://login", "ops@evil"):
        assert raw not in html, raw
    assert '<a href="https://infosec.example/@mallory/109"' in html  # the source post stays one click away

    # readable sections: indicators grouped with what is known in words
    for heading in ("Domains (", "URLs (1)", "E-mail addresses (1)", "File hashes (1)", "Accounts (1)"):
        assert heading in text, heading
    assert "MD5" in text and "mastodon post" in text


async def test_markdown_json_and_stix_carry_the_marking(bot: BotHarness) -> None:
    await investigated(bot, "amber+strict")
    md = (await attachment(bot, "/case export md"))[2].decode()
    lines = md.strip().splitlines()
    assert lines[0].startswith("**TLP:AMBER+STRICT**") and lines[-1] == lines[0]
    assert md.index("## Executive summary") < md.index("## Case details")
    assert "Prepared by Jane Doe, Example CTI" in md and "28 Nov 2026, 13:00 CET" in md
    assert r"hxxps://login\[\.\]evil\[\.\]com/verify" in md and r"login\.evil\.com" not in md
    assert not ISO_TIMESTAMP.search(md)

    data = json.loads((await attachment(bot, "/case export json"))[2])
    assert data["marking"]["label"] == "TLP:AMBER+STRICT"
    assert data["marking"]["stix_marking_ref"] == "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
    assert data["report"] == {"author": "Jane Doe", "organisation": "Example CTI", "timezone": "Europe/Berlin"}
    assert data["case"]["summary"] == SUMMARY  # data for tools stays raw

    bundle = stix2.parse((await attachment(bot, "/case export stix"))[2].decode(), allow_custom=False)
    markings = [o for o in bundle.objects if o.type == "marking-definition"]
    assert len(markings) == 1
    marking = markings[0]
    assert marking.id == "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
    assert marking.name == "TLP:AMBER+STRICT" and marking.created == datetime(2022, 10, 1, tzinfo=UTC)
    assert marking.extensions["extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"]["tlp_2_0"] == "amber+strict"
    others = [o for o in bundle.objects if o.type != "marking-definition"]
    assert others and all(o.object_marking_refs == [marking.id] for o in others)


def _pixels(img: Image.Image, box: tuple[float, ...]) -> list[tuple[int, int, int]]:
    crop = img.convert("RGB").crop(tuple(int(v) for v in box))  # type: ignore[arg-type]
    return [tuple(int(c) for c in px) for px in np.asarray(crop).reshape(-1, 3)]  # type: ignore[misc]


def _box(page: pdfium.PdfPage, text: pdfium.PdfTextPage, needle: str, scale: float) -> tuple[float, ...]:
    """Where `needle` is drawn on the rendered page, in pixels (left, top, right, bottom)."""
    found = text.search(needle).get_next()
    assert found is not None, f"{needle!r} not on the page"
    start, count = found
    boxes = [text.get_charbox(i) for i in range(start, start + count)]
    height = page.get_height()
    return (min(b[0] for b in boxes) * scale, (height - max(b[3] for b in boxes)) * scale,
            max(b[2] for b in boxes) * scale, (height - min(b[1] for b in boxes)) * scale)


async def test_pdf_has_the_summary_and_marking_on_page_one_and_the_marking_on_every_page(bot: BotHarness) -> None:
    await investigated(bot, "amber+strict")
    name, mime, data = await attachment(bot, "/case export pdf")
    assert name.endswith(".pdf") and mime == "application/pdf" and data.startswith(b"%PDF")

    doc = pdfium.PdfDocument(data)
    assert len(doc) >= 2
    texts = [" ".join(doc[i].get_textpage().get_text_bounded().split()) for i in range(len(doc))]
    first = texts[0]
    assert "Executive summary" in first and "A phishing kit on login[.]evil[.]com targets Example Corp" in first
    assert "Prepared by Jane Doe, Example CTI" in first
    for number, page_text in enumerate(texts, start=1):
        assert page_text.count("TLP:AMBER+STRICT") >= 2, f"page {number} lacks its header and footer marking"
        assert f"Page {number} of {len(doc)}" in page_text

    # page 1 rendered to a picture: the marking is amber on black, the summary is drawn where its text is
    scale = 2.0
    page = doc[0]
    image = page.render(scale=scale).to_pil()
    png = io.BytesIO()
    image.save(png, format="PNG")
    picture = Image.open(io.BytesIO(png.getvalue()))
    assert picture.size == (round(page.get_width() * scale), round(page.get_height() * scale))
    textpage = page.get_textpage()
    marking = _pixels(picture, _box(page, textpage, "TLP:AMBER+STRICT", scale))
    amber = sum(1 for r, g, b in marking if r > 200 and 150 < g < 230 and b < 80)
    black = sum(1 for r, g, b in marking if r < 40 and g < 40 and b < 40)
    assert amber > 20 and black > len(marking) / 3, (amber, black, len(marking))
    summary = _pixels(picture, _box(page, textpage, "A phishing kit on", scale))
    assert sum(1 for r, g, b in summary if r + g + b < 300) > 30  # dark glyphs where the summary is


async def test_cli_exports_a_pdf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    harness = BotHarness(tmp_path, sets=[case_commands], clock=lambda: CLOCK)
    await harness.start()
    await investigated(harness, "green")
    await harness.stop()
    monkeypatch.setenv("SOCMINT_DATABASE__URL", f"sqlite:///{tmp_path / 'test.db'}")
    target = tmp_path / "report.pdf"
    out = io.StringIO()
    assert await asyncio.to_thread(cli.main, ["export", "1", "--format", "pdf", "--out", str(target)], out=out) == 0
    doc = pdfium.PdfDocument(target.read_bytes())
    assert "TLP:GREEN" in doc[0].get_textpage().get_text_bounded()


def _without_pango(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make this process behave as on a machine without Pango: WeasyPrint's import fails to load the library."""
    import weasyprint  # noqa: F401  (loaded once for real, so every module below is restored afterwards)

    real = cffi.FFI.dlopen

    def dlopen(self: cffi.FFI, name: str, *args: object) -> object:
        if "pango" in str(name) or "gobject" in str(name):
            raise OSError(f"cannot load library '{name}': No such file or directory")
        return real(self, name, *args)

    monkeypatch.setattr(cffi.FFI, "dlopen", dlopen)
    for module in [m for m in sys.modules if m == "weasyprint" or m.startswith("weasyprint.")]:
        monkeypatch.delitem(sys.modules, module)


async def test_without_pango_pdf_is_refused_plainly_and_html_still_works(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    await investigated(bot)
    _without_pango(monkeypatch)
    text = await run(bot, "/case export pdf", Role.VIEWER, VIEWER)
    assert "PDF export is unavailable on this machine" in text
    assert "apt-get install libpango-1.0-0 libpangoft2-1.0-0" in text and "/case export html" in text
    assert "Traceback" not in text and "OSError" not in text
    assert "WeasyPrint could not import" not in capsys.readouterr().out  # its notice is logged, not printed
    name, _, _ = await attachment(bot, "/case export html")
    assert name.endswith(".html")


def test_tlp_levels_match_the_settings_and_the_standard() -> None:
    from typing import get_args

    from config.reports import TlpLevel

    assert set(get_args(TlpLevel)) == {t.value for t in Tlp}
    assert [t.label for t in Tlp] == ["TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"]
    assert Tlp.RED.marking_definition()["id"] == "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
    assert stix2.parse(Tlp.GREEN.marking_definition(), allow_custom=False).name == "TLP:GREEN"
