"""Polite outbound HTTP: one shared client, per-host rate limits, retries, circuit breakers."""

from handlers.fetch.breaker import BreakerOpen, CircuitBreaker
from handlers.fetch.client import make_client, user_agent
from handlers.fetch.polite import FetchError, PoliteFetcher
from handlers.fetch.ratelimit import HostLimiter

__all__ = [
    "BreakerOpen",
    "CircuitBreaker",
    "FetchError",
    "HostLimiter",
    "PoliteFetcher",
    "make_client",
    "user_agent",
]
