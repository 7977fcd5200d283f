"""The sweep on the command line: `socmint sites update|check` and `socmint user NAME`."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
from pathlib import Path
from typing import TextIO

import httpx

from config.settings import ConfigError, Settings, load_settings
from handlers.fetch import make_client
from handlers.lookup.sweep import report
from handlers.lookup.sweep.engine import Limits, SiteResult, Sweeper
from handlers.lookup.sweep.site import FormatError, Site, normalise_username
from handlers.lookup.sweep.sitelist import SiteList, default_sites, read_site_file, select, update_wmn
from handlers.lookup.sweep.verdict import Status

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def _selection_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sites", type=Path, help="site list file (WhatsMyName, Sherlock or Maigret JSON)")
    parser.add_argument("--category", help="only sites of this category")
    parser.add_argument("--only", default="", help="only these sites, comma-separated")
    parser.add_argument("--timeout", type=float, help="per-site timeout in seconds (default: settings)")


def _load(args: argparse.Namespace, settings: Settings) -> tuple[SiteList, list[Site]]:
    site_list = read_site_file(args.sites) if args.sites else default_sites(settings)
    return site_list, select(site_list.sites, category=args.category, only=args.only.split(","))


def _limits(args: argparse.Namespace, settings: Settings) -> Limits:
    limits = Limits.from_settings(settings.lookups.sweep)
    if args.timeout:
        limits = Limits(limits.concurrency, limits.per_host, args.timeout, max(limits.deadline_s, args.timeout))
    return limits


def user_cli(argv: list[str], out: TextIO | None = None) -> int:
    """`socmint user NAME [--sites FILE] [--category C] [--only a,b] [--format json|table]`."""
    parser = argparse.ArgumentParser(prog="socmint user", description="Sweep a username across many sites.")
    parser.add_argument("name")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    _selection_args(parser)
    args = parser.parse_args(argv)
    out = out or sys.stdout
    try:
        username = normalise_username(args.name)
        settings = load_settings()
        site_list, sites = _load(args, settings)
    except (ValueError, ConfigError) as exc:  # FormatError is a ValueError
        print(f"socmint user: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not sites:
        print("socmint user: no site matches that selection", file=sys.stderr)
        return EXIT_USAGE
    started = time.monotonic()
    results = asyncio.run(_sweep(settings, _limits(args, settings), [(s, username) for s in sites]))
    ordered = report.ordered(results)
    if args.format == "json":
        out.write(report.to_json(ordered) + "\n")
    else:
        _print_table(ordered, out)
        tally = report.counts(results)
        print(f"{tally[Status.FOUND]} found, {tally[Status.NOT_FOUND]} not found, {tally[Status.UNKNOWN]} unknown"
              f" of {len(results)} sites in {time.monotonic() - started:.1f}s ({site_list.origin})", file=out)
        if site_list.credit:
            print(f"Site list credit: {site_list.credit}", file=out)
    return EXIT_OK


async def _sweep(settings: Settings, limits: Limits, pairs: list[tuple[Site, str]]) -> list[SiteResult]:
    """Sweep with a client of our own whose pool is as large as the sweep's concurrency."""
    pool = max(settings.http.max_connections, limits.concurrency)
    sized = settings.model_copy(update={"http": settings.http.model_copy(update={"max_connections": pool})})
    async with make_client(sized) as client:
        return [r async for r in Sweeper(client, limits).sweep_pairs(pairs)]


def _print_table(results: list[SiteResult], out: TextIO) -> None:
    width = max((len(r.site.name) for r in results), default=4)
    for r in results:
        detail = r.url if r.status is Status.FOUND else r.reason
        http = str(r.http_status or "-")
        print(f"{r.status.value:<9}  {r.site.name:<{width}}  {http:>3}  {r.elapsed_ms:>6}ms  {detail}", file=out)


def sites_cli(argv: list[str], out: TextIO | None = None) -> int:
    """`socmint sites update` (download WhatsMyName) and `socmint sites check` (do the rules still hold?)."""
    parser = argparse.ArgumentParser(prog="socmint sites", description="Manage the username sweep's site list.")
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("update", help="download and cache the WhatsMyName site list")
    check = sub.add_parser("check", help="run every site's known account and a made-up one; report broken rules")
    _selection_args(check)
    args = parser.parse_args(argv)
    out = out or sys.stdout
    try:
        settings = load_settings()
        if args.action == "update":
            return asyncio.run(_update(settings, out))
        site_list, sites = _load(args, settings)
    except (ValueError, ConfigError) as exc:
        print(f"socmint sites: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return asyncio.run(_check(settings, _limits(args, settings), site_list, sites, out))


async def _update(settings: Settings, out: TextIO) -> int:
    async with make_client(settings) as client:
        try:
            site_list = await update_wmn(settings, client)
        except (httpx.HTTPError, FormatError) as exc:
            print(f"socmint sites update: {settings.lookups.sweep.wmn_url}: {exc}", file=sys.stderr)
            return EXIT_PROBLEMS
    print(f"{len(site_list.sites)} sites cached: {site_list.origin}", file=out)
    if site_list.credit:
        print(f"Credit: {site_list.credit}", file=out)
    return EXIT_OK


async def _check(settings: Settings, limits: Limits, site_list: SiteList, sites: list[Site], out: TextIO) -> int:
    """A site holds when its known account is found and a made-up name is not."""
    made_up = "zq" + secrets.token_hex(6)
    pairs = [(s, s.known[0]) for s in sites if s.known] + [(s, made_up) for s in sites]
    results = await _sweep(settings, limits, pairs)
    broken, unchecked = [], []
    for r in results:
        expected = Status.NOT_FOUND if r.username == made_up else Status.FOUND
        if r.status is Status.UNKNOWN:
            unchecked.append(r)
        elif r.status is not expected:
            who = "made-up name" if expected is Status.NOT_FOUND else "known account"
            broken.append((r, f"{who} came back {r.status.value}: {r.reason}"))
    for r, why in sorted(broken, key=lambda b: b[0].site.name.lower()):
        print(f"BROKEN     {r.site.name}: {why} ({r.url})", file=out)
    for r in sorted(unchecked, key=lambda r: r.site.name.lower()):
        print(f"UNCHECKED  {r.site.name}: {r.reason}", file=out)
    no_known = sum(1 for s in sites if not s.known)
    print(f"{len(sites)} sites from {site_list.origin}: {len({b[0].site.name for b in broken})} broken, "
          f"{len(unchecked)} checks inconclusive, {no_known} without a known account", file=out)
    return EXIT_PROBLEMS if broken else EXIT_OK
