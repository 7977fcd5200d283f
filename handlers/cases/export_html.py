"""The HTML report: one self-contained file — inline CSS, pictures as data: URIs, nothing fetched when opened.

Every untrusted value (titles, post text, handles, notes) is HTML-escaped; indicators are defanged and
never linked; only posts' own http(s) URLs are links. A Content-Security-Policy forbids any load. The
TLP label heads the page and closes it, and in print (the PDF is this page printed) it is in the
header and footer of every page, with page numbers.
"""

from __future__ import annotations

import base64
from html import escape

from handlers.analysis.charts import Picture
from handlers.cases.bundle import CaseBundle
from handlers.cases.report import DEFANG_NOTE, CaseReport, Table, build
from handlers.cases.tlp import Tlp

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
STYLE = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1d2330;margin:0;
background:#f4f5f7}
main{max-width:1100px;margin:0 auto;padding:24px 32px;background:#fff}
h1{font-size:1.6em;margin:.3em 0 .1em}h2{border-bottom:2px solid #dde1e8;padding-bottom:4px;margin-top:1.8em}
h3{font-size:1.05em;margin:1.2em 0 .4em}
table{border-collapse:collapse;width:100%;font-size:.9em}th,td{border:1px solid #dde1e8;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#eef1f6}tr:nth-child(even) td{background:#fafbfc}
td.value{font-family:ui-monospace,SFMono-Regular,Menlo,"DejaVu Sans Mono",monospace;overflow-wrap:anywhere}
.tlp{display:inline-block;background:#000;font-weight:700;letter-spacing:.04em;padding:2px 10px;border-radius:3px}
.tlp-bar{display:flex;justify-content:space-between;align-items:center;gap:12px;font-size:.9em;color:#5b6475}
.byline{color:#5b6475;margin:0 0 1em}
.summary{border-left:5px solid #1d2330;background:#f6f7f9;padding:10px 16px;font-size:1.05em}
.summary p{margin:.4em 0}.summary.missing{border-color:#c9ced8;color:#5b6475;font-style:italic}
.details td:first-child{width:150px;font-weight:600}
.post{border-left:4px solid #7a8cb5;padding:6px 12px;margin:12px 0;background:#f8f9fc;break-inside:avoid}
.post p{white-space:pre-wrap;margin:.4em 0;overflow-wrap:anywhere}.meta{color:#5b6475;font-size:.88em}
figure{margin:12px 0;break-inside:avoid}figure img{max-width:100%;border:1px solid #dde1e8}
figcaption{color:#5b6475;font-size:.88em}
.note{color:#5b6475;font-size:.9em}
.log td:nth-child(-n+3){white-space:nowrap}
@media print{body{background:#fff;font-size:10pt}main{max-width:none;padding:0}h1{string-set:report-title content()}
h2{break-after:avoid}h3{break-after:avoid}tr{break-inside:avoid}.tlp-bar.bottom{display:none}}
"""


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _page_css(level: Tlp) -> str:
    """Print layout: A4, the title top left, the TLP label top and bottom right of every page, page numbers."""
    label = f'content:"{level.label}";font:bold 9pt sans-serif;color:{level.colour};background:#000;padding:1mm 3mm'
    muted = "font:9pt sans-serif;color:#5b6475"
    return (f"@page{{size:A4;margin:20mm 14mm 18mm;@top-left{{content:string(report-title);{muted}}}"
            f"@top-right{{{label};margin:8mm 0 5mm}}"
            f'@bottom-left{{content:"Page " counter(page) " of " counter(pages);{muted}}}'
            f"@bottom-right{{{label};margin:5mm 0 8mm}}}}")


def _badge(level: Tlp) -> str:
    return f'<span class="tlp" style="color:{level.colour}">{_e(level.label)}</span>'


def _figure(picture: Picture | None, empty: str) -> str:
    if picture is None:
        return f"<p>{_e(empty)}</p>"
    data = base64.b64encode(picture.png).decode("ascii")
    return (f'<figure><img alt="{_e(picture.summary)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_e(picture.summary)}</figcaption></figure>")


def _table(table: Table, value_column: bool = True, css: str = "") -> str:
    """A table whose header row repeats on every printed page."""
    head = "".join(f"<th>{_e(h)}</th>" for h in table.headers)
    rows = "".join(
        "<tr>" + "".join(f'<td{" class=value" if value_column and i == 0 else ""}>{_e(cell)}</td>'
                         for i, cell in enumerate(row)) + "</tr>"
        for row in table.rows)
    heading = f"<h3>{_e(table.title)}</h3>" if table.title else ""
    return f'{heading}<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def _summary(report: CaseReport) -> str:
    paragraphs = "".join(f"<p>{_e(p)}</p>" for p in report.summary)
    return f'<div class="summary{"" if report.has_summary else " missing"}">{paragraphs}</div>'


def _details(report: CaseReport) -> str:
    rows = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in report.details)
    return f'<table class="details">{rows}</table>'


def _entities(report: CaseReport) -> str:
    parts = [f'<p class="note">{_e(DEFANG_NOTE)}</p>']
    parts += [_table(t) for t in report.indicators]
    if report.vulnerabilities:
        parts.append(_table(report.vulnerabilities))
    parts += [_table(t) for t in report.people]
    if report.others:
        parts.append(_table(report.others))
    return "".join(parts) if len(parts) > 1 else "<p>No entities yet.</p>"


def _post_link(url: str | None) -> str:
    if not url:
        return "no link"
    return f'<a href="{_e(url)}" rel="noopener noreferrer nofollow">original post</a>'


def _posts(report: CaseReport) -> str:
    parts = []
    for p in report.posts:
        title = f"<p><strong>{_e(p.title)}</strong></p>" if p.title else ""
        parts.append(f'<div class="post"><div class="meta"><strong>{_e(p.heading)}</strong> {_e(p.byline)} · '
                     f"{_post_link(p.url)}</div>{title}<p>{_e(p.text)}</p></div>")
    return "".join(parts) or "<p>No posts in this case.</p>"


def _notes(report: CaseReport) -> str:
    items = [f'<li><span class="meta">{_e(n.when)}, {_e(n.by)}:</span> {_e(n.text)}</li>' for n in report.notes]
    return f"<ul>{''.join(items)}</ul>" if items else "<p>No notes.</p>"


def _credits(report: CaseReport) -> str:
    items = [f"<li><strong>{_e(name)}</strong>: {_e(text)}</li>" for name, text in report.credits]
    return f"<ul>{''.join(items)}</ul>" if items else "<p>None recorded.</p>"


def _bar(report: CaseReport, where: str) -> str:
    return (f'<div class="tlp-bar {where}">{_badge(report.meta.tlp)}'
            f"<span>{_e(report.meta.tlp.meaning)}</span></div>")


def page(report: CaseReport, graph: Picture | None, timeline: Picture | None) -> str:
    """The report as one HTML document."""
    byline = " · ".join(p for p in (f"Prepared by {report.meta.byline}" if report.meta.byline else "",
                                    f"Exported {report.exported}") if p)
    relationships = _table(report.relationships, value_column=False) if report.relationships else \
        "<p>No links yet.</p>"
    sections = [
        ("Executive summary", _summary(report)),
        ("Case details", _details(report)),
        ("Timeline", _figure(timeline, "No timeline: the case has no dated posts or changes yet.")),
        ("Graph", _figure(graph, "No graph: the case has no entities yet.")),
        ("Entities", _entities(report)),
        ("Relationships", relationships),
        ("Key posts", _posts(report)),
        ("Analyst notes", _notes(report)),
        ("Sources and attributions", _credits(report)),
        ("Appendix: change log", _table(report.changes, value_column=False, css="log") if report.changes else ""),
    ]
    body = "".join(f"<section><h2>{_e(name)}</h2>{html}</section>" for name, html in sections)
    author = f'<meta name="author" content="{_e(report.meta.byline)}">' if report.meta.byline else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{author}<title>{_e(report.meta.tlp.label)} {_e(report.title)}</title>"
        f"<style>{STYLE}{_page_css(report.meta.tlp)}</style></head>"
        f'<body><main>{_bar(report, "top")}<h1>{_e(report.title)}</h1><p class="byline">{_e(byline)}</p>'
        f'{body}{_bar(report, "bottom")}</main></body></html>\n'
    )


def render(bundle: CaseBundle, graph: Picture | None, timeline: Picture | None) -> bytes:
    """The report as one HTML file."""
    return page(build(bundle), graph, timeline).encode("utf-8")
