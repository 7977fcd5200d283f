"""/cve: NVD record, CISA KEV status, EPSS score, and how often stored posts mention it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, or_
from sqlmodel import Session, select

from bot.command import CommandError
from bot.reply import Button, Reply, italic, link
from handlers.lookup import epss, kev, nvd
from handlers.lookup.detect import CVE_RE
from handlers.lookup.provider import LookupEnv, run_providers
from handlers.lookup.report import failures, heading, listing
from storage.models import StoredPost


def parse_cve_arg(text: str) -> str:
    cve_id = text.strip().upper()
    if not CVE_RE.match(cve_id):
        raise CommandError(f"{text!r} is not a CVE id (like CVE-2021-44228).")
    return cve_id


def count_mentions(session: Session, cve_id: str, since: datetime) -> int:
    """Stored posts since `since` whose text or title mentions `cve_id` (any case)."""
    needle = f"%{cve_id.lower()}%"
    query = select(func.count()).select_from(StoredPost).where(
        StoredPost.created_at >= since,
        or_(func.lower(StoredPost.text).like(needle), func.lower(StoredPost.title).like(needle)),
    )
    return int(session.exec(query).one())


async def mentions(env: LookupEnv, cve_id: str) -> tuple[int, int]:
    now = env.services.now()
    return await env.services.db.run(lambda s: (
        count_mentions(s, cve_id, now - timedelta(days=7)), count_mentions(s, cve_id, now - timedelta(days=30))
    ))


async def lookup_cve(env: LookupEnv, text: str) -> Reply:
    """The full /cve answer."""
    cve_id = parse_cve_arg(text)
    outcomes = await run_providers({
        "NVD": nvd.cve(env, cve_id),
        "CISA KEV": kev.entry(env, cve_id),
        "EPSS": epss.score(env, cve_id),
        "Mentions": mentions(env, cve_id),
    })
    reply = heading("CVE", cve_id)
    record = outcomes["NVD"]
    if record.ok and record.value is None:
        reply.para("NVD: no record for this id (reserved, rejected, or not published yet).")
    elif record.ok:
        r = record.value
        cvss = r["cvss"]
        scored = f"{cvss['score']} {cvss['severity'] or ''}".strip() + f" (v{cvss['version']})" if cvss else ""
        reply.para(r["description"] or "(no description)")
        reply.kv([
            ("status", r["status"] or "—"),
            ("published", r["published"] or "—"),
            ("CVSS", scored or "not scored"),
            ("vector", cvss["vector"] if cvss and cvss["vector"] else "—"),
            ("CWE", listing(r["cwes"])),
        ], title="NVD")
        if r["references"]:
            more = r["reference_count"] - len(r["references"])
            reply.para("References: ", *[p for u in r["references"] for p in (link(u, u), " ")],
                       f"(+{more} more)" if more > 0 else "")
    known = outcomes["CISA KEV"]
    if known.ok and known.value is None:
        reply.para("CISA KEV: not in the catalogue of known exploited vulnerabilities.")
    elif known.ok:
        k = known.value
        reply.kv([
            ("known exploited", "yes"),
            ("name", k["vulnerabilityName"] or "—"),
            ("date added", k["dateAdded"] or "—"),
            ("due date", k["dueDate"] or "—"),
            ("ransomware use", k["knownRansomwareCampaignUse"] or "Unknown"),
        ], title="CISA KEV")
    score = outcomes["EPSS"]
    if score.ok and score.value is None:
        reply.para("EPSS: no score for this CVE.")
    elif score.ok:
        s = score.value
        reply.kv([("score", f"{s['epss']:.2%} chance of exploitation in 30 days"),
                  ("percentile", f"{s['percentile']:.1%}"), ("as of", s["date"] or "—")], title="EPSS")
    seen = outcomes["Mentions"]
    if seen.ok:
        reply.kv([("last 7 days", str(seen.value[0])), ("last 30 days", str(seen.value[1]))],
                 title="Mentions in collected posts")
    failures(reply, outcomes)
    reply.para(italic(nvd.ATTRIBUTION))
    return reply.buttons([Button(f"Watch {cve_id}", f"/watch add cve:{cve_id}"),
                          Button("Add to case", f"/case pivot {cve_id}")])
