"""The Markdown report: the same sections as the HTML report, every untrusted value escaped so it cannot become
markup, marked with its TLP label at the top and bottom."""

from __future__ import annotations

import re
from urllib.parse import quote

from handlers.cases.bundle import CaseBundle
from handlers.cases.report import DEFANG_NOTE, CaseReport, Table, build

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def esc(text: object) -> str:
    """Untrusted text as literal Markdown: HTML and Markdown punctuation neutralised, one line."""
    flat = " ".join(str(text if text is not None else "").split())
    flat = flat.replace("&", "&amp;").replace("<", "&lt;")
    return _SPECIAL.sub(r"\\\1", flat)


def safe_link(label: str, url: str | None) -> str:
    """A Markdown link to an http(s) URL (anything else is shown as escaped text, not linked)."""
    if not url or not url.lower().startswith(("http://", "https://")):
        return esc(label)
    return f"[{esc(label)}](<{quote(url, safe=':/?#=&%+@,;~')}>)"


def _table(table: Table) -> list[str]:
    lines = [f"### {esc(table.title)}", ""] if table.title else []
    lines += ["| " + " | ".join(esc(h) for h in table.headers) + " |", "|" + "---|" * len(table.headers)]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in table.rows]
    return [*lines, ""]


def _entities(report: CaseReport) -> list[str]:
    tables = [*report.indicators, *([report.vulnerabilities] if report.vulnerabilities else []), *report.people,
              *([report.others] if report.others else [])]
    if not tables:
        return ["No entities yet.", ""]
    return [esc(DEFANG_NOTE), "", *(line for t in tables for line in _table(t))]


def _posts(report: CaseReport) -> list[str]:
    lines: list[str] = []
    for p in report.posts:
        lines += [f"### {esc(p.heading)}", "", f"{esc(p.byline)} · {safe_link('original post', p.url)}", ""]
        if p.title:
            lines += [f"**{esc(p.title)}**", ""]
        lines += [f"> {esc(p.text)}", ""]
    return lines or ["No posts in this case.", ""]


def render(bundle: CaseBundle) -> bytes:
    """The report as Markdown: the TLP label first and last, then the same sections as the HTML report."""
    report = build(bundle)
    tlp = report.meta.tlp
    marking = f"**{tlp.label}** — {esc(tlp.meaning)}"
    byline = f"Prepared by {esc(report.meta.byline)} · " if report.meta.byline else ""
    lines = [marking, "", f"# {esc(report.title)}", "", f"{byline}Exported {esc(report.exported)}", "",
             "## Executive summary", ""]
    lines += [line for p in report.summary for line in (esc(p) if report.has_summary else f"*{esc(p)}*", "")]
    lines += ["## Case details", ""]
    lines += [f"- **{esc(k)}:** {esc(v)}" for k, v in report.details]
    lines += ["", "## Entities", "", *_entities(report), "## Relationships", ""]
    lines += _table(report.relationships) if report.relationships else ["No links yet.", ""]
    lines += ["## Key posts", "", *_posts(report), "## Analyst notes", ""]
    lines += [f"- {esc(n.when)}, {esc(n.by)}: {esc(n.text)}" for n in report.notes] or ["No notes."]
    lines += ["", "## Sources and attributions", ""]
    lines += [f"- **{esc(name)}:** {esc(credit)}" for name, credit in report.credits] or ["None recorded."]
    lines += ["", "## Appendix: change log", ""]
    if report.changes:
        lines += _table(report.changes)
    lines += ["", marking]
    return ("\n".join(lines) + "\n").encode("utf-8")
