"""The HTML report: one self-contained file — inline CSS, pictures as data: URIs, nothing fetched when opened.

Every untrusted value (titles, post text, handles, notes) is HTML-escaped; indicators are shown defanged
and never linked; only posts' own http(s) URLs are links. A Content-Security-Policy forbids any load.
"""

from __future__ import annotations

import base64
from collections import Counter
from html import escape

from handlers.analysis.charts import Picture
from handlers.cases.bundle import CaseBundle, typed
from handlers.cases.entities import defanged

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
STYLE = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;margin:0;background:#f4f5f7}
main{max-width:1100px;margin:0 auto;padding:24px 32px;background:#fff}
h1{font-size:1.6em;margin:.2em 0}h2{border-bottom:2px solid #dde1e8;padding-bottom:4px;margin-top:2em}
table{border-collapse:collapse;width:100%;font-size:.92em}th,td{border:1px solid #dde1e8;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#eef1f6}tr:nth-child(even) td{background:#fafbfc}
.kind{font-family:ui-monospace,monospace;font-size:.85em;padding:1px 6px;border-radius:4px;background:#e7ecf5}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;word-break:break-all}
.post{border-left:4px solid #7a8cb5;padding:6px 12px;margin:12px 0;background:#f8f9fc}
.post p{white-space:pre-wrap;margin:.4em 0}.meta{color:#5b6475;font-size:.88em}
figure{margin:12px 0}figure img{max-width:100%;border:1px solid #dde1e8}figcaption{color:#5b6475;font-size:.88em}
.summary td:first-child{width:160px;font-weight:600}
"""


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _figure(picture: Picture | None) -> str:
    if picture is None:
        return "<p>No picture: the case has nothing to draw yet.</p>"
    data = base64.b64encode(picture.png).decode("ascii")
    return (f'<figure><img alt="{_e(picture.summary)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_e(picture.summary)}</figcaption></figure>")


def _post_link(url: object) -> str:
    if isinstance(url, str) and url.lower().startswith(("http://", "https://")):
        return f'<a href="{_e(url)}" rel="noopener noreferrer nofollow">{_e(url)}</a>'
    return "no link"


def _summary(bundle: CaseBundle) -> str:
    case = bundle.case
    kinds = Counter(e.kind for e in bundle.entities)
    rows = [
        ("Status", case.status), ("Chat", bundle.chat),
        ("Opened", f"{case.created_at:%Y-%m-%d %H:%M} UTC by {case.created_by}"),
        ("Last change", f"{case.updated_at:%Y-%m-%d %H:%M} UTC"),
        ("Exported", f"{bundle.exported_at:%Y-%m-%d %H:%M} UTC"),
        ("Entities", ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none"),
        ("Links / notes / posts", f"{len(bundle.links)} / {len(bundle.notes)} / {len(bundle.posts)}"),
    ]
    if case.closed_at:
        rows.append(("Closed", f"{case.closed_at:%Y-%m-%d %H:%M} UTC by {case.closed_by}"))
    body = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows)
    return f'<table class="summary">{body}</table>'


def _entities(bundle: CaseBundle) -> str:
    rows = []
    for e in bundle.entities:
        shown = defanged(typed(e))
        extra = e.attrs.get("unicode")
        facts = ", ".join(f"{k}: {v}" for k, v in e.attrs.items()
                          if k not in ("text", "unicode", "title") and isinstance(v, (str, int, float, bool)))
        rows.append(
            f"<tr><td>{e.id}</td><td><span class=\"kind\">{_e(e.kind)}</span></td>"
            f"<td class=\"mono\">{_e(shown)}{f' ({_e(extra)})' if extra else ''}</td>"
            f"<td>{_e(', '.join(e.tags))}</td><td>{_e(facts)}</td><td>{_e(', '.join(e.sources))}</td>"
            f"<td>{_e(e.added_by)}<br>{e.added_at:%Y-%m-%d %H:%M}</td></tr>")
    return ("<table><tr><th>#</th><th>kind</th><th>value</th><th>tags</th><th>facts</th><th>sources</th>"
            "<th>added</th></tr>" + "".join(rows) + "</table>") if rows else "<p>No entities yet.</p>"


def _links(bundle: CaseBundle) -> str:
    ids = bundle.by_id
    rows = [
        f"<tr><td class=\"mono\">{_e(defanged(typed(ids[lk.src_id])))}</td><td>{_e(lk.kind)}</td>"
        f"<td class=\"mono\">{_e(defanged(typed(ids[lk.dst_id])))}</td><td>{_e(lk.source)}</td></tr>"
        for lk in bundle.links
    ]
    return ("<table><tr><th>from</th><th>link</th><th>to</th><th>source</th></tr>" + "".join(rows)
            + "</table>") if rows else "<p>No links yet.</p>"


def _posts(bundle: CaseBundle) -> str:
    parts = []
    for p in bundle.posts:
        a = p.attrs
        title = f"<p><strong>{_e(a['title'])}</strong></p>" if a.get("title") else ""
        parts.append(
            f'<div class="post"><div class="meta">{_e(a.get("source"))} · {_e(a.get("author_handle") or "unknown")}'
            f' · {_e(a.get("created_at"))} · {_post_link(a.get("url"))}</div>{title}<p>{_e(a.get("text"))}</p></div>')
    return "".join(parts) or "<p>No posts in this case.</p>"


def _notes(bundle: CaseBundle) -> str:
    items = [f"<li><span class=\"meta\">{n.at:%Y-%m-%d %H:%M} UTC, {_e(n.by)}:</span> {_e(n.text)}</li>"
             for n in bundle.notes]
    return f"<ul>{''.join(items)}</ul>" if items else "<p>No notes.</p>"


def _audit(bundle: CaseBundle) -> str:
    rows = [f"<tr><td>{ev.at:%Y-%m-%d %H:%M:%S}</td><td>{_e(ev.by)}</td><td>{_e(ev.action)}</td>"
            f"<td>{_e(ev.detail)}</td></tr>" for ev in bundle.events]
    return "<table><tr><th>when (UTC)</th><th>who</th><th>what</th><th>detail</th></tr>" + "".join(rows) + "</table>"


def _credits(bundle: CaseBundle) -> str:
    items = [f"<li><strong>{_e(name)}</strong>: {_e(text)}</li>" for name, text in bundle.credits]
    return f"<ul>{''.join(items)}</ul>" if items else "<p>None recorded.</p>"


def render(bundle: CaseBundle, graph: Picture | None, timeline: Picture | None) -> bytes:
    """The report as one HTML file."""
    title = f"Case {bundle.case.id}: {bundle.case.title}"
    sections = [
        ("Summary", _summary(bundle)),
        ("Timeline", _figure(timeline)),
        ("Graph", _figure(graph)),
        ("Entities", "<p>Indicators are defanged (hxxp, [.]) so they cannot be clicked by accident.</p>"
                     + _entities(bundle)),
        ("Links", _links(bundle)),
        ("Key posts", _posts(bundle)),
        ("Notes", _notes(bundle)),
        ("Audit trail", _audit(bundle)),
        ("Sources and attributions", _credits(bundle)),
    ]
    body = "".join(f"<section><h2>{_e(name)}</h2>{html}</section>" for name, html in sections)
    page = (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head>"
        f"<body><main><h1>{_e(title)}</h1>{body}</main></body></html>\n"
    )
    return page.encode("utf-8")
