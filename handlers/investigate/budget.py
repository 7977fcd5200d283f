"""The request budget of one investigation, and the lookup environment that spends it.

Every provider HTTP request made through the environment costs one unit, charged before it is sent
(cache hits cost nothing); DNS queries, redirect hops, sweep sites and source pages are charged by
the step that makes them. When the budget cannot cover a request, `BudgetSpent` stops that step.
"""

from __future__ import annotations

from typing import Any

import httpx

from bot.services import Services
from handlers.lookup.provider import LookupEnv


class BudgetSpent(Exception):
    """The investigation's request budget cannot cover what a step needs."""


class Budget:
    """A number of requests, spent one charge at a time and never overdrawn."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    @property
    def left(self) -> int:
        return self.limit - self.used

    def charge(self, n: int = 1) -> None:
        """Spend `n` requests, or raise BudgetSpent (spending nothing) when fewer are left."""
        if n > self.left:
            raise BudgetSpent(f"needs {n} request(s), {self.left} left of {self.limit}")
        self.used += n

    def refund(self, n: int) -> None:
        """Give back requests charged in advance but not made."""
        self.used = max(0, self.used - n)


class BudgetedEnv(LookupEnv):
    """A LookupEnv whose provider requests are paid from a Budget (rate limits, cache and breakers unchanged)."""

    def __init__(self, services: Services, budget: Budget) -> None:
        super().__init__(services)
        self.budget = budget

    def charge(self, n: int = 1) -> None:
        self.budget.charge(n)

    async def get(self, name: str, url: str, **kwargs: Any) -> httpx.Response:
        self.budget.charge(1)
        return await super().get(name, url, **kwargs)
