"""Consuming a firehose: posts handed to the engine in batches, each flushed by age or by size.

A batch is handed over when its first post has waited `max_age_s` (a timer set when that post arrives, not
restarted by the posts after it) or when it holds `max_posts`, whichever comes first. One writer task ingests
the batches in order, each with the cursor of its last post, while the reader goes on reading; a writer
that fell behind ingests the queued batches together (one commit for many posts), and when it falls
`QUEUED_BATCHES` behind, the reader waits (the stream's own buffer holds the rest).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from handlers.monitor.pipeline import CursorUpdate, IngestResult
from handlers.monitor.post import Post
from handlers.monitor.sources.base import Source

STREAM_FLUSH_POSTS = 200
STREAM_FLUSH_S = 1.0
QUEUED_BATCHES = 8
MERGED_POSTS = 2000  # a writer that fell behind ingests queued batches together, up to this many posts
CURSOR_KEY = "stream"


class Ingests(Protocol):
    """What a stream consumer needs from the engine."""

    async def ingest(
        self, posts: Sequence[Post], *, alert: bool = True, cursor: CursorUpdate | None = None,
        only_matching: bool = False, sample: float = 0.0,
    ) -> IngestResult: ...


@dataclass
class StreamStats:
    """What a consumer did: counts, and how long posts waited before their batch reached the engine."""

    posts: int = 0
    batches: int = 0
    stored: int = 0
    max_wait_s: float = 0.0  # the longest a batch's first post waited between being read and its ingest starting
    waits: deque[float] = field(default_factory=lambda: deque(maxlen=4096))  # the same, for the latest batches

    def waited(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.max_wait_s = max(self.max_wait_s, seconds)


@dataclass(frozen=True, slots=True)
class _Batch:
    posts: list[Post]
    position: str | None
    first_at: float  # when its first post was read (consumer clock)


class StreamConsumer:
    """Reads one source's stream and ingests its posts in order, in batches at most `max_age_s` old."""

    def __init__(
        self, source: Source, engine: Ingests, *, cursor: str | None = None, max_posts: int = STREAM_FLUSH_POSTS,
        max_age_s: float = STREAM_FLUSH_S, sample: float = 0.0, clock: Callable[[], float] | None = None,
    ) -> None:
        self.source = source
        self.engine = engine
        self.cursor = cursor
        self.max_posts = max_posts
        self.max_age_s = max_age_s
        self.sample = sample
        self.stats = StreamStats()
        self._clock = clock
        self._batch: list[Post] = []
        self._first_at = 0.0
        self._position: str | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._ready: deque[_Batch] = deque()
        self._wake = asyncio.Event()  # a batch is ready, or reading ended
        self._room = asyncio.Event()  # the writer took a batch
        self._reading = True

    def _now(self) -> float:
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()

    async def run(self) -> None:
        """Consume until the stream ends (or this is cancelled); a failed ingest stops it with that error."""
        reader = asyncio.create_task(self._read(), name=f"stream-read:{self.source.name}")
        writer = asyncio.create_task(self._write(), name=f"stream-write:{self.source.name}")
        try:
            await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_EXCEPTION)
            if writer.done():  # the writer only ends early by failing
                reader.cancel()
                writer.result()
            reader.result()
            await writer
        finally:
            for task in (reader, writer):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(reader, writer, return_exceptions=True)

    async def _read(self) -> None:
        try:
            async for post, position in self.source.stream(self.cursor):
                if not self._batch:
                    self._first_at = self._now()
                    self._timer = asyncio.get_running_loop().call_later(self.max_age_s, self._flush)
                self._batch.append(post)
                self._position = position
                self.stats.posts += 1
                if len(self._batch) >= self.max_posts:
                    self._flush()
                while len(self._ready) >= QUEUED_BATCHES:
                    self._room.clear()
                    await self._room.wait()
            self._flush()
        finally:
            self._reading = False
            self._wake.set()

    def _flush(self) -> None:
        """Hand the current batch to the writer."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._batch:
            return
        self._ready.append(_Batch(self._batch, self._position, self._first_at))
        self._batch = []
        self._wake.set()

    async def _write(self) -> None:
        while True:
            while self._ready:
                batch = self._ready.popleft()
                posts, position = list(batch.posts), batch.position
                while self._ready and len(posts) < MERGED_POSTS:  # behind: one ingest (one commit) for several
                    more = self._ready.popleft()
                    posts += more.posts
                    position = more.position
                self._room.set()
                self.stats.waited(self._now() - batch.first_at)
                result = await self.engine.ingest(
                    posts, cursor=CursorUpdate(self.source.name, CURSOR_KEY, position),
                    only_matching=True, sample=self.sample,
                )
                self.stats.batches += 1
                self.stats.stored += result.stored
            if not self._reading:
                return
            self._wake.clear()
            await self._wake.wait()
