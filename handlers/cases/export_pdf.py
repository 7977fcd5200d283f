"""The PDF report: the HTML report printed by WeasyPrint — same sections, TLP in every page's header and footer.

WeasyPrint is pure Python but draws text with Pango, a library of the operating system. Where Pango is
missing the export says so and how to install it, instead of failing; `make` installs it on Debian-like
machines. Nothing is fetched while printing: the only resources the report has are its inline pictures.
"""

from __future__ import annotations

import contextlib
import io
import logging
from typing import Any

from handlers.analysis.charts import Picture
from handlers.cases.bundle import CaseBundle
from handlers.cases.export_html import page
from handlers.cases.report import build

INSTALL_HINT = (
    "PDF export is unavailable on this machine: it needs the Pango text library, which is not installed. "
    "Install it (Debian/Ubuntu: `apt-get install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 "
    "fonts-dejavu-core`; "
    "macOS: `brew install pango`) and restart the bot. Meanwhile /case export html gives the same report, "
    "and a browser prints it to PDF."
)

log = logging.getLogger(__name__)


class PdfUnavailable(RuntimeError):
    """PDF cannot be made here (the OS library WeasyPrint needs is missing); the message says how to fix it."""


def _weasyprint() -> Any:
    """The weasyprint module, or PdfUnavailable. Its own failure notice goes to stdout (which is the chat on
    the console), so it is caught and logged instead."""
    notice = io.StringIO()
    try:
        with contextlib.redirect_stdout(notice):
            import weasyprint
    except (ImportError, OSError) as exc:  # OSError: cffi could not load libpango / libgobject
        log.warning("PDF export unavailable: %s %s", exc, " ".join(notice.getvalue().split()))
        raise PdfUnavailable(INSTALL_HINT) from exc
    return weasyprint


def render(bundle: CaseBundle, graph: Picture | None, timeline: Picture | None) -> bytes:
    """The report as a PDF (raises PdfUnavailable when the OS lacks Pango)."""
    weasyprint = _weasyprint()
    html = page(build(bundle), graph, timeline)
    inline_only = weasyprint.URLFetcher(allowed_protocols={"data"}, allow_redirects=False)
    return weasyprint.HTML(string=html, url_fetcher=inline_only, media_type="print").write_pdf()
