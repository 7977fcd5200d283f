"""The firehose consumer: batches flushed by the age of their first post or by size, in order, with the cursor."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Sequence
from typing import ClassVar

import pytest

from handlers.monitor.pipeline import CursorUpdate, IngestResult
from handlers.monitor.post import Post
from handlers.monitor.sources.base import Source
from handlers.monitor.stream import QUEUED_BATCHES, STREAM_FLUSH_POSTS, STREAM_FLUSH_S, StreamConsumer
from tests.fakes.monitor import make_post


class Trickle(Source):
    """A stream that yields posts after given pauses, noting when each one was handed out."""

    name: ClassVar[str] = "trickle"
    title: ClassVar[str] = "Trickle"

    def __init__(self, pauses: Sequence[float]) -> None:
        self.pauses = list(pauses)
        self.read_at: dict[str, float] = {}

    async def _posts(self) -> AsyncIterator[tuple[Post, str]]:
        loop = asyncio.get_running_loop()
        for i, pause in enumerate(self.pauses):
            if pause:
                await asyncio.sleep(pause)
            self.read_at[str(i)] = loop.time()
            yield make_post(str(i), f"post {i}"), f"c{i}"

    def stream(self, cursor: str | None) -> AsyncIterator[tuple[Post, str]]:
        return self._posts()


class Recorder:
    """An engine that notes each batch, when it arrived and with which cursor."""

    def __init__(self, delay: float = 0.0) -> None:
        self.batches: list[tuple[float, list[str], CursorUpdate | None]] = []
        self.delay = delay

    async def ingest(self, posts: Sequence[Post], *, alert: bool = True, cursor: CursorUpdate | None = None,
                     only_matching: bool = False, sample: float = 0.0) -> IngestResult:
        assert only_matching
        self.batches.append((asyncio.get_running_loop().time(), [p.source_id for p in posts], cursor))
        if self.delay:
            await asyncio.sleep(self.delay)
        return IngestResult(received=len(posts), stored=len(posts))


class LagMeter:
    """Measures how late the loop runs a 10 ms ticker: the scheduling slack a deadline can meet."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + 0.01
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, loop.time() - due)

    def __enter__(self) -> LagMeter:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def test_a_slow_trickle_is_flushed_within_a_second_of_each_batchs_first_post() -> None:
    rng = random.Random(7)
    source = Trickle([0.0] + [rng.uniform(0.3, 0.5) for _ in range(9)])  # ~4 s of one post every 0.3-0.5 s
    engine = Recorder()
    consumer = StreamConsumer(source, engine)
    with LagMeter() as lag:
        await consumer.run()
    waits = {sid: at - source.read_at[sid] for at, ids, _ in engine.batches for sid in ids}
    assert sorted(waits, key=int) == [str(i) for i in range(10)]  # every post, once, in order
    assert [sid for _, ids, _ in engine.batches for sid in ids] == [str(i) for i in range(10)]
    # the age promise, with the loop's own measured lateness as the only slack (not the machine's speed)
    assert max(waits.values()) <= STREAM_FLUSH_S + lag.worst + 0.05, (waits, lag.worst)
    assert consumer.stats.max_wait_s <= STREAM_FLUSH_S + lag.worst + 0.05
    # it still batches: the timer is not restarted by each post, nor does every post go alone
    assert 3 <= len(engine.batches) <= 7
    assert all(cursor == CursorUpdate("trickle", "stream", f"c{ids[-1]}") for _, ids, cursor in engine.batches)


async def test_a_burst_is_flushed_by_size_without_waiting_for_the_timer() -> None:
    source = Trickle([0.0] * (2 * STREAM_FLUSH_POSTS + 50))
    engine = Recorder()
    consumer = StreamConsumer(source, engine)
    await consumer.run()
    ids = [sid for _, batch, _ in engine.batches for sid in batch]
    assert ids == [str(i) for i in range(2 * STREAM_FLUSH_POSTS + 50)]
    # the full batches went at once, far sooner than the age limit (queued together: the writer was behind)
    at, first, _ = engine.batches[0]
    assert len(first) >= STREAM_FLUSH_POSTS and at - source.read_at[first[0]] < STREAM_FLUSH_S / 2
    assert consumer.stats.batches < 3


async def test_a_slow_engine_holds_the_reader_back_instead_of_queueing_without_bound() -> None:
    source = Trickle([0.0] * 2000)
    engine = Recorder(delay=0.02)
    consumer = StreamConsumer(source, engine, max_posts=10)
    task = asyncio.create_task(consumer.run())
    for _ in range(10):
        await asyncio.sleep(0.03)
        written = sum(len(ids) for _, ids, _ in engine.batches)
        # read ahead of the writer: at most the queued batches, the one being written and the one filling
        assert consumer.stats.posts - written <= 10 * (QUEUED_BATCHES + 2)
    await task
    assert sum(len(ids) for _, ids, _ in engine.batches) == 2000


async def test_a_failing_ingest_stops_the_consumer_with_its_error() -> None:
    class Failing(Recorder):
        async def ingest(self, posts: Sequence[Post], **kwargs: object) -> IngestResult:
            raise RuntimeError("database is gone")

    source = Trickle([0.0, 0.0, 3600.0])  # then silence: the error must not wait for the next post
    with pytest.raises(RuntimeError, match="database is gone"):
        await asyncio.wait_for(StreamConsumer(source, Failing(), max_posts=2).run(), timeout=10)
