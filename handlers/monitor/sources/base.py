"""The source interface: what a public feed can do, each method optional."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from handlers.monitor.post import Author, Post


class NotSupported(Exception):
    """This source cannot do that (e.g. search on an RSS feed)."""


class NeedsKey(Exception):
    """This source or operation needs a key that is not configured."""


@dataclass
class Page:
    """Posts from one call, and the cursor to pass next time (persisted by the scheduler)."""

    posts: list[Post]
    cursor: str | None = None


@dataclass
class Profile:
    """An account as the source describes it."""

    source: str
    author: Author
    bio: str = ""
    url: str | None = None
    links: list[str] = field(default_factory=list)
    created_at: Any = None  # datetime | None
    counts: dict[str, int] = field(default_factory=dict)
    raw: dict[str, Any] | None = None


class Source:
    """A public source. Subclasses implement what they support; the rest raise NotSupported."""

    name: ClassVar[str]
    title: ClassVar[str]
    needs_key: ClassVar[bool] = False
    attribution: ClassVar[str] = ""

    def configured(self) -> bool:
        """False when a required key is missing (listed as "needs a key", never silently empty)."""
        return True

    async def search(self, terms: Sequence[str], cursor: str | None) -> Page:
        """Posts matching any of `terms` newer than `cursor`."""
        raise NotSupported(f"{self.name} has no search")

    async def account_feed(self, handle: str, cursor: str | None) -> Page:
        """An account's posts newer than `cursor`."""
        raise NotSupported(f"{self.name} has no account feeds")

    async def profile(self, handle: str) -> Profile:
        """An account's public profile."""
        raise NotSupported(f"{self.name} has no profiles")

    def stream(self, cursor: str | None) -> AsyncIterator[tuple[Post, str]]:
        """Posts as they happen, each with the cursor to resume after it."""
        raise NotSupported(f"{self.name} has no stream")
