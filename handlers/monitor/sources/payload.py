"""Reading source payloads safely: JSON bodies, timestamps, and items that fail to parse."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from handlers.fetch import FetchError, PoliteFetcher

log = logging.getLogger(__name__)
T = TypeVar("T")
Item = TypeVar("Item")


def json_body(fetcher: PoliteFetcher, key: str, response: httpx.Response, shape: type | None = None) -> Any:
    """The response's JSON (of type `shape` when given); a truncated, invalid or wrongly shaped body counts
    against the source's health."""
    try:
        body = json.loads(response.content)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than the parser can follow
        fetcher.breaker(key).failure("malformed JSON")
        log.warning("malformed payload", extra={"source": key, "url": str(response.url), "error": str(exc)[:200]})
        raise FetchError(key, "the response was not valid JSON (truncated or malformed)") from None
    if shape is not None and not isinstance(body, shape):
        fetcher.breaker(key).failure("unexpected JSON shape")
        log.warning("malformed payload", extra={"source": key, "url": str(response.url),
                                                "error": f"expected a JSON {shape.__name__}"})
        raise FetchError(key, "the response had an unexpected shape")
    return body


def parse_each(key: str, items: Iterable[Item], parse: Callable[[Item], T | None]) -> list[T]:
    """Parse every item, logging and skipping the ones that are malformed; None results are dropped."""
    out: list[T] = []
    for item in items:
        try:
            result = parse(item)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:  # e.g. a time out of range
            log.warning("malformed item skipped", extra={"source": key, "error": f"{type(exc).__name__}: {exc}"})
            continue
        if result is not None:
            out.append(result)
    return out


def from_epoch(value: float | int | str) -> datetime:
    """A UTC datetime from Unix seconds."""
    return datetime.fromtimestamp(float(value), UTC)


def from_iso(value: str) -> datetime:
    """A UTC datetime from ISO 8601 (a trailing Z or an offset; naive values are taken as UTC)."""
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def check_status(fetcher: PoliteFetcher, key: str, response: httpx.Response, what: str) -> None:
    """Raise FetchError with a short reason for a 4xx the source cannot use.

    401/403 (refused, or rate limited) count against the source's health; 404 and others do not.
    """
    if response.status_code < 400:
        return
    reason = f"{what}: HTTP {response.status_code}"
    if response.status_code in (401, 403):
        reason += " (access denied or rate limited)"
        fetcher.breaker(key).failure(reason)
    elif response.status_code == 404:
        reason += " (not found)"
    raise FetchError(key, reason, response.status_code)


def cursor_state(cursor: str | None) -> dict[str, Any]:
    """A JSON-object cursor as a dict; {} when absent or not one of ours (start afresh, never crash)."""
    if not cursor:
        return {}
    try:
        state = json.loads(cursor)
    except ValueError:
        return {}
    return state if isinstance(state, dict) else {}
