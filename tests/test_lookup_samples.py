"""Provider parsers over the recorded real responses in ../shared/samples (skipped when absent)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from handlers.lookup import epss, kev, nvd, rdap

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
pytestmark = [pytest.mark.samples, pytest.mark.skipif(not SAMPLES.exists(), reason="no ../shared/samples")]


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def test_rdap_domain_markmonitor() -> None:
    parsed = rdap.parse_domain(sample("rdap/domain_google.com_markmonitor.json"))
    assert parsed["registrar"] == "MarkMonitor Inc."
    assert parsed["registrant"] == "Google LLC"
    assert (parsed["created"], parsed["expires"]) == ("1997-09-15", "2028-09-13")
    assert parsed["nameservers"][0] == "ns1.google.com"
    assert "client delete prohibited" in parsed["status"]


def test_rdap_network_arin_v6() -> None:
    parsed = rdap.parse_network(sample("rdap/ip_2606-4700-4700--1111_arin.json"))
    assert parsed["name"] == "CLOUDFLARENET"
    assert parsed["cidrs"] == ["2606:4700::/32"]
    assert parsed["origin_asns"] == ["13335"]


def test_rdap_network_ripe_without_cidrs() -> None:
    parsed = rdap.parse_network(sample("rdap/ip_130.59.31.80_ripe.json"))
    assert parsed["range"] == "130.59.0.0 – 130.59.255.255"
    assert parsed["country"] == "CH"


def test_nvd_record() -> None:
    parsed = nvd.parse(sample("nvd/cves_2.0_cveId_CVE-2021-26855.json"), "CVE-2021-26855")
    assert parsed is not None
    assert parsed["cvss"]["score"] == 9.8 and parsed["cvss"]["version"] == "3.1"
    assert parsed["cwes"] == ["CWE-918"]
    assert parsed["reference_count"] >= len(parsed["references"]) > 0


def test_kev_catalogue() -> None:
    indexed = kev.index(sample("kev/known_exploited_vulnerabilities.json"))
    entry = indexed["entries"]["CVE-2025-48384"]
    assert entry["dueDate"] == "2025-09-15" and entry["knownRansomwareCampaignUse"] == "Unknown"


def test_epss_score() -> None:
    parsed = epss.parse(sample("epss/epss_cve_CVE-2024-39689.json"), "CVE-2024-39689")
    assert parsed == {"epss": 0.21233, "percentile": 0.95432, "date": "2025-08-14"}
