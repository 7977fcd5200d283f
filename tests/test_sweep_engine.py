"""The sweep engine against a local site farm: every way a site answers, and the limits."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from handlers.lookup.sweep.engine import Limits, SiteResult, Sweeper
from handlers.lookup.sweep.site import normalise_username
from handlers.lookup.sweep.sitelist import read_site_file
from handlers.lookup.sweep.verdict import Status
from tests.sweep_farm import Farm, running_farm

UA = "socmint-bot/test (+https://example.org)"


async def sweep(farm: Farm, tmp_path: Path, username: str, limits: Limits | None = None,
                kinds: list[str] | None = None) -> dict[str, SiteResult]:
    sites = read_site_file(farm.wmn_list(tmp_path / "sites.json", kinds)).sites
    limits = limits or Limits(concurrency=20, per_host=20, site_timeout_s=0.5, deadline_s=10)
    async with httpx.AsyncClient(headers={"User-Agent": UA}) as client:
        return {r.site.name: r async for r in Sweeper(client, limits).sweep(username, sites)}


async def test_existing_user_is_found_where_knowable_and_unknown_elsewhere(tmp_path: Path) -> None:
    async with running_farm(slow_s=3) as farm:
        results = await sweep(farm, tmp_path, "alice")
    status = {name: r.status for name, r in results.items()}
    assert status == {
        "status": Status.FOUND, "message": Status.FOUND, "redirect": Status.FOUND,
        "flaky": Status.FOUND, "post": Status.FOUND,
        "slow": Status.UNKNOWN, "limited": Status.UNKNOWN, "blocked": Status.UNKNOWN, "odd": Status.UNKNOWN,
    }
    assert results["status"].url == f"{farm.base}/status/alice"
    assert results["post"].url == f"{farm.base}/post/alice"  # uri_pretty, not the API


async def test_missing_user_by_status_message_and_redirect(tmp_path: Path) -> None:
    async with running_farm(slow_s=3) as farm:
        results = await sweep(farm, tmp_path, "bob")
    for name in ("status", "message", "redirect", "flaky", "post"):
        assert results[name].status is Status.NOT_FOUND, results[name]
    assert results["status"].http_status == 404
    assert results["message"].http_status == 200
    assert results["redirect"].http_status == 302 and "/login" in results["redirect"].reason


async def test_faults_are_unknown_with_their_reason(tmp_path: Path) -> None:
    async with running_farm(slow_s=3) as farm:
        results = await sweep(farm, tmp_path, "alice")
    assert "timed out" in results["slow"].reason and results["slow"].http_status is None
    assert "rate limited" in results["limited"].reason and results["limited"].http_status == 429
    assert "Cloudflare" in results["blocked"].reason
    assert "neither rule" in results["odd"].reason


async def test_a_503_is_retried_once(tmp_path: Path) -> None:
    async with running_farm() as farm:
        results = await sweep(farm, tmp_path, "alice", kinds=["flaky"])
        assert farm.hits["flaky"] == 2
    assert results["flaky"].status is Status.FOUND
    assert "after one retry" in results["flaky"].reason


async def test_we_identify_ourselves_even_when_the_list_sets_a_user_agent(tmp_path: Path) -> None:
    async with running_farm() as farm:
        await sweep(farm, tmp_path, "alice", kinds=["status", "post"])
        assert farm.user_agents and set(farm.user_agents) == {UA}


async def test_per_host_limit_holds(tmp_path: Path) -> None:
    async with running_farm() as farm:
        base = farm.base
        doc = {"license": ["t"], "authors": ["t"], "categories": ["social"], "sites": [
            {"name": f"s{i}", "uri_check": f"{base}/hold/{{account}}?i={i}", "e_code": 200,
             "e_string": "profile-card", "m_code": 404, "m_string": "", "known": ["alice"], "cat": "social"}
            for i in range(12)]}
        path = tmp_path / "hold.json"
        path.write_text(__import__("json").dumps(doc))
        sites = read_site_file(path).sites
        async with httpx.AsyncClient() as client:
            sweeper = Sweeper(client, Limits(concurrency=50, per_host=3, site_timeout_s=5, deadline_s=10))
            results = [r async for r in sweeper.sweep("alice", sites)]
        assert farm.max_in_flight == 3
    assert len(results) == 12 and all(r.status is Status.FOUND for r in results)


async def test_overall_deadline_ends_open_sites_unknown(tmp_path: Path) -> None:
    async with running_farm(slow_s=3) as farm:
        limits = Limits(concurrency=20, per_host=20, site_timeout_s=5, deadline_s=0.4)
        results = await sweep(farm, tmp_path, "alice", limits, kinds=["status", "slow"])
    assert results["status"].status is Status.FOUND
    assert results["slow"].status is Status.UNKNOWN and "deadline" in results["slow"].reason


async def test_username_is_url_encoded_and_bad_characters_stripped(tmp_path: Path) -> None:
    async with running_farm(users={"a.b"}) as farm:
        doc_path = farm.wmn_list(tmp_path / "s.json", ["status"])
        text = doc_path.read_text().replace('"cat"', '"strip_bad_char": "-", "cat"')
        doc_path.write_text(text)
        sites = read_site_file(doc_path).sites
        async with httpx.AsyncClient() as client:
            sweeper = Sweeper(client, Limits(site_timeout_s=2))
            results = [r async for r in sweeper.sweep("a.-b", sites)]
        assert farm.paths == ["/status/a.b"]
    assert results[0].status is Status.FOUND


@pytest.mark.parametrize("bad", ["", "a/b", "../etc", "a b", "x?y=1", "a#b", "é" * 65, "a%2f"])
def test_usernames_with_impossible_characters_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        normalise_username(bad)


def test_usernames_are_normalised() -> None:
    assert normalise_username(" @alice_01 ") == "alice_01"
    assert normalise_username("José.m-x") == "José.m-x"
