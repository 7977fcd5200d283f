"""Deterministic synthetic posts with known answers, for the analysis tests and the benchmark."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from handlers.monitor.post import Author, Post

EPOCH = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday


def post(
    handle: str,
    at: datetime,
    text: str = "hello world",
    *,
    source: str = "synthetic",
    sid: str | None = None,
    **fields: object,
) -> Post:
    """One post by `handle` at `at`."""
    return Post(
        source=source,
        source_id=sid or f"{handle}-{at.timestamp():.0f}-{abs(hash(text)) % 10**8}",
        text=text,
        created_at=at,
        author=Author(id=handle, handle=handle, name=handle.title()),
        **fields,  # type: ignore[arg-type]
    )


def persona_times(offset_h: int, n: int, seed: int, days: int = 40) -> list[datetime]:
    """Post times of someone awake 08:00–24:00 local (peaks mid-morning and evening) at UTC+offset_h."""
    rng = random.Random(seed)
    weights = [0, 0, 0, 0, 0, 0, 0, 0, 3, 6, 8, 7, 6, 6, 5, 5, 6, 7, 8, 9, 9, 7, 4, 2]
    out = []
    for _ in range(n):
        day = rng.randrange(days)
        hour = rng.choices(range(24), weights)[0]
        local = EPOCH + timedelta(days=day, hours=hour, minutes=rng.randrange(60))
        out.append(local - timedelta(hours=offset_h))
    return sorted(out)


def sleeper_times(offset_min: int, n: int, seed: int, noise: float = 0.0, days: int = 40) -> list[datetime]:
    """Post times, to the minute, of someone asleep 23:00–07:00 local at UTC+offset_min minutes.

    A share `noise` of the posts falls at any time of day (insomnia, scheduled posts).
    """
    rng = random.Random(seed)
    weights = [0, 0, 0, 0, 0, 0, 0, 3, 6, 8, 7, 6, 6, 5, 5, 6, 7, 8, 9, 9, 7, 4, 3, 0]
    out = []
    for _ in range(n):
        day = rng.randrange(days)
        if rng.random() < noise:
            minute = rng.randrange(24 * 60)
        else:
            minute = rng.choices(range(24), weights)[0] * 60 + rng.randrange(60)
        out.append(EPOCH + timedelta(days=day, minutes=minute - offset_min))
    return sorted(out)


WORDS = [
    "patch",
    "update",
    "server",
    "cloud",
    "network",
    "release",
    "security",
    "team",
    "report",
    "data",
    "user",
    "login",
    "system",
    "service",
    "vendor",
    "advisory",
    "researchers",
    "exploit",
    "malware",
    "phishing",
    "campaign",
    "ransomware",
    "leak",
    "backup",
    "firewall",
]


def organic(n: int, seed: int, start: datetime = EPOCH, days: int = 30, accounts: int = 500) -> list[Post]:
    """Unrelated posts by many accounts: random word salad, spread evenly in time."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        at = start + timedelta(seconds=rng.randrange(days * 86400))
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 20)))
        out.append(post(f"user{rng.randrange(accounts)}", at, text, sid=f"o{seed}-{i}"))
    return out


def assert_png(data: bytes, min_width: int = 300, min_height: int = 200) -> None:
    """The bytes decode as a PNG of at least that size with a real drawing on it (many colours)."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "PNG"
        assert img.width >= min_width and img.height >= min_height, img.size
        colours = img.convert("RGB").getcolors(maxcolors=1 << 20) or []
        assert len(colours) > 20, "blank picture"
