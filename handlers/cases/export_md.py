"""The Markdown export: the report as text, every untrusted value escaped so it cannot become markup."""

from __future__ import annotations

import re
from urllib.parse import quote

from handlers.cases.bundle import CaseBundle, typed
from handlers.cases.entities import defanged

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


def render(bundle: CaseBundle) -> bytes:
    case = bundle.case
    ids = bundle.by_id
    lines = [
        f"# Case {case.id}: {esc(case.title)}", "",
        f"- **Status:** {esc(case.status)}",
        f"- **Chat:** {esc(bundle.chat)}",
        f"- **Opened:** {case.created_at:%Y-%m-%d %H:%M} UTC by {esc(case.created_by)}",
        f"- **Last change:** {case.updated_at:%Y-%m-%d %H:%M} UTC",
        f"- **Exported:** {bundle.exported_at:%Y-%m-%d %H:%M} UTC",
        f"- **Contents:** {len(bundle.entities)} entities, {len(bundle.links)} links, {len(bundle.notes)} notes", "",
        "Indicators are defanged (`hxxp`, `[.]`) so they cannot be clicked by accident.", "",
        "## Entities", "", "| # | kind | value | tags | sources |", "|---|---|---|---|---|",
    ]
    for e in bundle.entities:
        lines.append(f"| {e.id} | {esc(e.kind)} | {esc(defanged(typed(e)))} | {esc(', '.join(e.tags))} "
                     f"| {esc(', '.join(e.sources))} |")
    lines += ["", "## Links", "", "| from | link | to | source |", "|---|---|---|---|"]
    for lk in bundle.links:
        src, dst = typed(ids[lk.src_id]), typed(ids[lk.dst_id])
        lines.append(f"| {esc(defanged(src))} | {esc(lk.kind)} | {esc(defanged(dst))} | {esc(lk.source)} |")
    lines += ["", "## Key posts", ""]
    for p in bundle.posts or []:
        a = p.attrs
        lines += [f"### {esc(p.value)} — {esc(a.get('created_at', ''))}", "",
                  f"By {esc(a.get('author_handle') or 'unknown')} · {safe_link('source', a.get('url'))}", ""]
        if a.get("title"):
            lines += [f"**{esc(a['title'])}**", ""]
        lines += [f"> {esc(a.get('text', ''))}", ""]
    if not bundle.posts:
        lines += ["No posts in this case.", ""]
    lines += ["## Notes", ""]
    lines += [f"- {n.at:%Y-%m-%d %H:%M} UTC, {esc(n.by)}: {esc(n.text)}" for n in bundle.notes] or ["No notes."]
    lines += ["", "## Audit trail", "", "| when (UTC) | who | what | detail |", "|---|---|---|---|"]
    lines += [f"| {ev.at:%Y-%m-%d %H:%M:%S} | {esc(ev.by)} | {esc(ev.action)} | {esc(ev.detail)} |"
              for ev in bundle.events]
    lines += ["", "## Sources and attributions", ""]
    lines += [f"- **{esc(name)}:** {esc(credit)}" for name, credit in bundle.credits] or ["None recorded."]
    return ("\n".join(lines) + "\n").encode("utf-8")
