"""The normalised post: one shape for every source and import."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from storage.models import StoredPost


@dataclass(frozen=True, slots=True)
class Author:
    """Who posted: `id` is the source's stable id, `handle` the @name, `name` the display name."""

    id: str | None = None
    handle: str | None = None
    name: str | None = None

    @property
    def account(self) -> str | None:
        """Who posted, for analyses that group by account: the handle, else the display name with the id
        (a Telegram export names senders only so: `Ann (user101)`), else whichever is known."""
        if self.handle:
            return self.handle
        if self.name and self.id:
            return f"{self.name} ({self.id})"
        return self.id or self.name


@dataclass(slots=True)
class Post:
    """A post from any source, normalised. `text` is plain (HTML stripped, entities decoded)."""

    source: str
    source_id: str
    text: str
    created_at: datetime  # aware, UTC
    author: Author = field(default_factory=Author)
    url: str | None = None
    title: str | None = None
    lang: str | None = None
    reply_to: str | None = None
    thread_id: str | None = None
    mentions: list[str] = field(default_factory=list)
    hashtags: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    media: list[dict[str, Any]] = field(default_factory=list)
    geo: dict[str, Any] | None = None  # {"lat": .., "lon": .., "place": ..}
    engagement: dict[str, int] = field(default_factory=dict)
    raw: dict[str, Any] | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.source_id)

    @property
    def full_text(self) -> str:
        """Title and body together, as matched."""
        return f"{self.title}\n{self.text}" if self.title else self.text

    @property
    def content_hash(self) -> str:
        """Hash of the author and normalised text, to drop the same content cross-posted or re-fetched (the
        author's id where there is no handle, as in Telegram exports: two senders' same words are two posts)."""
        norm = " ".join(unicodedata.normalize("NFKC", self.full_text).casefold().split())
        author = self.author.handle or self.author.id or ""
        return hashlib.sha256(f"{author}\x00{norm}".encode()).hexdigest()

    def to_row(self) -> StoredPost:
        return StoredPost(
            source=self.source,
            source_id=self.source_id,
            url=self.url,
            author_id=self.author.id,
            author_handle=self.author.handle,
            author_name=self.author.name,
            text=self.text,
            title=self.title,
            created_at=self.created_at,
            lang=self.lang,
            reply_to=self.reply_to,
            thread_id=self.thread_id,
            content_hash=self.content_hash,
            mentions=list(self.mentions),
            hashtags=list(self.hashtags),
            urls=list(self.urls),
            media=list(self.media),
            geo=self.geo,
            engagement=dict(self.engagement),
            raw=self.raw,
        )

    @classmethod
    def from_row(cls, row: StoredPost) -> Post:
        return cls(
            source=row.source,
            source_id=row.source_id,
            text=row.text,
            created_at=row.created_at,
            author=Author(row.author_id, row.author_handle, row.author_name),
            url=row.url,
            title=row.title,
            lang=row.lang,
            reply_to=row.reply_to,
            thread_id=row.thread_id,
            mentions=list(row.mentions or []),
            hashtags=list(row.hashtags or []),
            urls=list(row.urls or []),
            media=list(row.media or []),
            geo=row.geo,
            engagement=dict(row.engagement or {}),
            raw=row.raw,
        )
