"""The polite fetcher: pacing, retries with backoff, Retry-After, circuit breaker, unsendable requests."""

from __future__ import annotations

import time

import httpx
import pytest

from handlers.fetch import BreakerOpen, FetchError, PoliteFetcher
from handlers.fetch.polite import retry_after_seconds


def fetcher_for(answers: list[httpx.Response]) -> tuple[PoliteFetcher, list[float], list[httpx.Request]]:
    sleeps: list[float] = []
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0)

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    fetcher = PoliteFetcher(client, retries=3, backoff_base_s=1, sleep=sleep)
    fetcher.configure("src", 1000)  # no pacing between these local answers
    return fetcher, sleeps, seen


async def test_retries_5xx_then_succeeds_with_backoff():
    fetcher, sleeps, seen = fetcher_for([httpx.Response(503), httpx.Response(500), httpx.Response(200, text="ok")])
    response = await fetcher.get("http://127.0.0.1:9/x", key="src")
    assert response.text == "ok" and len(seen) == 3
    assert len(sleeps) == 2 and 0.5 <= sleeps[0] <= 1 and 1 <= sleeps[1] <= 2  # exponential, jittered
    assert fetcher.breaker("src").failures == 0


async def test_retry_after_holds_the_next_request():
    fetcher, _, seen = fetcher_for([httpx.Response(429, headers={"Retry-After": "1"}), httpx.Response(200)])
    started = time.monotonic()
    await fetcher.get("http://127.0.0.1:9/x", key="src")
    assert len(seen) == 2 and time.monotonic() - started >= 0.9  # the retry waited out Retry-After
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "7"})) == 7
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0


async def test_a_long_retry_after_gives_up_at_once():
    fetcher, sleeps, seen = fetcher_for([httpx.Response(429, headers={"Retry-After": "3600"})])
    with pytest.raises(FetchError, match="rate limited for 3600s"):
        await fetcher.get("http://127.0.0.1:9/x", key="src")
    assert len(seen) == 1 and sleeps == []
    assert fetcher.limiter.paused_for("src") > 3500


async def test_breaker_opens_after_repeated_failures():
    fetcher, _, seen = fetcher_for([httpx.Response(500) for _ in range(40)])
    for _ in range(5):
        with pytest.raises(FetchError):
            await fetcher.get("http://127.0.0.1:9/x", key="src", retries=0)
    with pytest.raises(BreakerOpen):
        await fetcher.get("http://127.0.0.1:9/x", key="src", retries=0)
    assert len(seen) == 5  # the sixth call was never sent


async def test_unsendable_request_is_a_fetch_error_not_a_crash():
    fetcher, _, seen = fetcher_for([])
    with pytest.raises(FetchError, match="invalid request"):
        await fetcher.get("http://127.0.0.1:9/x", key="src", headers={"Authorization": "Bearer t\U000dd968"})
    assert seen == []
