"""The plain-text renderer used by the console and for text beside pictures."""

from __future__ import annotations

import unicodedata

from bot.render.text import render_text
from bot.reply import Button, Reply, bold, code, link


def test_renders_every_part_in_order():
    reply = Reply.text("Found ", bold("3"), " profiles for ", code("alice"))
    reply.kv([("site", link("GitHub", "https://github.com/alice")), ("status", "found")], title="Result")
    reply.table(["a", "bb"], [("1", "2"), ("333", "4")])
    reply.attach("x.csv", b"a,b\n", "text/csv", "all sites")
    reply.buttons([Button("Mute 1h", "/watch mute 3 1h")])
    text = render_text(reply)
    assert text.index("Found 3 profiles for `alice`") < text.index("Result") < text.index("333")
    assert "GitHub <https://github.com/alice>" in text
    assert "[file] x.csv (4 bytes) — all sites" in text
    assert "[Mute 1h: /watch mute 3 1h]" in text


def test_terminal_control_and_bidi_characters_removed():
    text = render_text(Reply.text("evil\x1b[2J\x07 \u202egnp.exe"))
    assert "\x1b" not in text and "\u202e" not in text and "evil" in text


def test_wide_characters_align_in_tables():
    text = render_text(Reply().table(["name", "n"], [("東京", "1"), ("ab", "2")]))
    lines = text.splitlines()

    def column(line: str, ch: str, nth: int = 0) -> int:
        head = line[: [i for i, c in enumerate(line) if c == ch][nth]]
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in head)

    assert column(lines[2], "1") == column(lines[3], "2") == column(lines[0], "n", 1)
