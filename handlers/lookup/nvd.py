"""NVD CVE API 2.0: description, CVSS, CWE and references of a CVE."""

from __future__ import annotations

from typing import Any

from handlers.lookup.provider import LookupEnv, ProviderError

ATTRIBUTION = "This product uses data from the NVD API but is not endorsed or certified by the NVD."
METRIC_KEYS = ("cvssMetricV40", "cvssMetricV31", "cvssMetricV30", "cvssMetricV2")
MAX_REFERENCES = 8


def _cvss(metrics: dict[str, Any]) -> dict[str, Any] | None:
    """The newest CVSS version present, preferring the NVD's own (Primary) score."""
    for key in METRIC_KEYS:
        entries = metrics.get(key) or []
        if not entries:
            continue
        entry = next((e for e in entries if e.get("type") == "Primary"), entries[0])
        data = entry.get("cvssData") or {}
        return {
            "version": data.get("version"),
            "score": data.get("baseScore"),
            "severity": data.get("baseSeverity") or entry.get("baseSeverity"),
            "vector": data.get("vectorString"),
            "source": entry.get("source"),
        }
    return None


def parse(payload: Any, cve_id: str) -> dict[str, Any] | None:
    """The fields we show, or None when the NVD has no such CVE."""
    if not isinstance(payload, dict) or not isinstance(payload.get("vulnerabilities"), list):
        raise ProviderError("unexpected answer")
    for item in payload["vulnerabilities"]:
        cve = item.get("cve") or {}
        if cve.get("id", "").upper() != cve_id:
            continue
        descriptions = cve.get("descriptions") or []
        english = next((d.get("value") for d in descriptions if d.get("lang") == "en"), None)
        cwes = sorted({
            d.get("value") for w in cve.get("weaknesses") or [] for d in w.get("description") or []
            if str(d.get("value", "")).startswith("CWE-")
        })
        refs = [r.get("url") for r in cve.get("references") or [] if r.get("url")]
        return {
            "id": cve.get("id"),
            "status": cve.get("vulnStatus"),
            "published": (cve.get("published") or "")[:10] or None,
            "modified": (cve.get("lastModified") or "")[:10] or None,
            "description": english or (descriptions[0].get("value") if descriptions else None),
            "cvss": _cvss(cve.get("metrics") or {}),
            "cwes": cwes,
            "references": refs[:MAX_REFERENCES],
            "reference_count": len(refs),
        }
    return None


async def cve(env: LookupEnv, cve_id: str) -> dict[str, Any] | None:
    """The NVD record of `cve_id` (key sent as the `apiKey` header when set). Cached."""

    async def produce() -> dict[str, Any] | None:
        headers = {"apiKey": env.key("nvd")} if env.has_key("nvd") else {}
        payload = await env.get_json("nvd", env.url("nvd"), params={"cveId": cve_id}, headers=headers)
        return parse(payload, cve_id)

    return await env.cached("nvd", cve_id, produce)
