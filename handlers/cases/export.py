"""Exporting a case to a file in any format, off the event loop (shared by /case export and the CLI)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from handlers.cases import export_csv, export_gexf, export_html, export_json, export_md, export_pdf, export_stix
from handlers.cases.bundle import CaseBundle, inert_copy
from handlers.cases.pictures import graph_picture, timeline_picture


@dataclass(frozen=True)
class Format:
    """An export format: file extension and media type."""

    extension: str
    mime: str
    description: str


FORMATS: dict[str, Format] = {
    "html": Format("html", "text/html", "self-contained HTML report"),
    "pdf": Format("pdf", "application/pdf", "the HTML report as a PDF, TLP on every page"),
    "md": Format("md", "text/markdown", "Markdown report"),
    "json": Format("json", "application/json", "the full case (schema socmint.case v1)"),
    "csv": Format("zip", "application/zip", "entities, links, posts, notes and events as CSV files"),
    "stix": Format("stix.json", "application/json", "STIX 2.1 bundle"),
    "gexf": Format("gexf", "application/xml", "graph for Gephi or Maltego"),
}
_RENDER = {"md": export_md.render, "json": export_json.render, "csv": export_csv.render,
           "stix": export_stix.render, "gexf": export_gexf.render}
_REPORTS = {"html": export_html.render, "pdf": export_pdf.render}


def filename(bundle: CaseBundle, fmt: str) -> str:
    """`case-3-phishing-wave.html`."""
    slug = re.sub(r"[^a-z0-9]+", "-", bundle.case.title.lower()).strip("-")[:40] or "untitled"
    return f"case-{bundle.case.id}-{slug}.{FORMATS[fmt].extension}"


async def export(bundle: CaseBundle, fmt: str) -> bytes:
    """The case in format `fmt` (a key of FORMATS), its text made inert first (whatever the format);
    PdfUnavailable when PDF cannot be made on this machine."""
    bundle = inert_copy(bundle)
    if fmt in _REPORTS:
        graph = await graph_picture(bundle) if bundle.entities else None
        timeline = await timeline_picture(bundle)
        return await asyncio.to_thread(_REPORTS[fmt], bundle, graph, timeline)
    return await asyncio.to_thread(_RENDER[fmt], bundle)
