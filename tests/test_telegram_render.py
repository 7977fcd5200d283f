"""The Telegram renderer: escaping, links, splitting at Telegram's limits, files and keyboards."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.render import telegram as tgr
from bot.render.telegram import Kind, Outgoing, render, render_progress, utf16_len
from bot.reply import Button, Reply, bold, code, italic, link
from tests.fakes.telegram_api import parse_html

HOSTILE = '<b>x</b> & <a href="javascript:alert(1)">y</a> &amp; <i'


def visible(message: Outgoing) -> str:
    """What the user sees, parsed as strictly as Telegram (raises on malformed HTML)."""
    return parse_html(message.html)[0]


def tags(message: Outgoing) -> list[dict[str, str]]:
    return parse_html(message.html)[1]


def texts(messages: list[Outgoing]) -> list[Outgoing]:
    return [m for m in messages if m.kind is Kind.TEXT]


def test_hostile_text_is_escaped_and_inert() -> None:
    [message] = render(Reply.text(HOSTILE, bold(HOSTILE)))
    assert visible(message) == HOSTILE + HOSTILE
    assert [t["tag"] for t in tags(message)] == ["b"]  # only ours


def test_only_http_links_become_links() -> None:
    reply = Reply.text(
        link("ok", 'https://example.com/?a=1&b="2"'),
        link("js", "javascript:alert(1)"),
        link("data", "data:text/html,<script>"),
        link("rel", "/relative"),
        link("nohost", "https://"),
        link("", "http://bare.example"),
    )
    [message] = render(reply)
    assert visible(message) == "okjsdatarelnohosthttp://bare.example"
    assert [t["href"] for t in tags(message)] == ['https://example.com/?a=1&b="2"', "http://bare.example"]
    assert '&quot;2&quot;' in message.html and "&amp;b" in message.html


def test_styles_code_blocks_and_key_values() -> None:
    reply = Reply.text("a", bold("b"), italic("c"), code("d<"))
    reply.code_block("if a < b && c:\n    pass\n")
    reply.kv([("name", "x & y"), ("lines", "one\ntwo")], title="Facts")
    [message] = render(reply)
    assert message.html.startswith("a<b>b</b><i>c</i><code>d&lt;</code>\n\n<pre>if a &lt; b &amp;&amp; c:")
    assert "<b>Facts</b>\n<b>name:</b> x &amp; y\n<b>lines:</b> one\ntwo" in message.html
    assert visible(message).endswith("Facts\nname: x & y\nlines: one\ntwo")


def test_control_and_bidi_characters_are_dropped() -> None:
    [message] = render(Reply.text("evil\u202egnp.exe\x00\x07 ok"))
    assert visible(message) == "evilgnp.exe ok"


def test_a_5000_character_post_is_split_at_a_space() -> None:
    words = [f"w{i:04d}" for i in range(1000)]
    messages = render(Reply.text(" ".join(words)))
    assert len(messages) == 2
    assert all(utf16_len(visible(m)) <= 4096 for m in messages)
    assert visible(messages[0]).endswith(" ") and "".join(visible(m) for m in messages).split() == words


def test_surrogate_pairs_count_double_and_are_never_cut() -> None:
    messages = render(Reply.text("😀" * 3000 + "🇺🇦"))
    parts = [visible(m) for m in messages]
    assert len(parts) == 2 and all(utf16_len(p) <= 4096 for p in parts)
    assert utf16_len(parts[0]) == 4096  # packed right up to the limit, in UTF-16 units
    assert "".join(parts) == "😀" * 3000 + "🇺🇦"
    for part in parts:
        part.encode("utf-16-le").decode("utf-16-le")  # no lone surrogate anywhere


def test_split_happens_on_block_boundaries() -> None:
    paragraphs = [chr(ord("a") + i) * 1500 for i in range(5)]
    reply = Reply()
    for text in paragraphs:
        reply.para(bold(text[:10]), text[10:])
    messages = render(reply)
    assert [visible(m).split("\n\n") for m in messages] == [paragraphs[0:2], paragraphs[2:4], paragraphs[4:5]]


def test_oversized_code_block_is_split_by_lines_with_pre_reopened() -> None:
    lines = [f"{i:04d} <&> " + "x" * 30 for i in range(400)]
    messages = render(Reply().code_block("\n".join(lines)))
    assert len(messages) > 1
    for message in messages:
        assert message.html.startswith("<pre>") and message.html.endswith("</pre>")
        assert utf16_len(visible(message)) <= 4096
    assert "\n".join(visible(m) for m in messages).split("\n") == lines


def test_an_endless_line_is_cut_hard_inside_styles() -> None:
    messages = render(Reply.text(bold("B" * 5000), "tail"))
    assert [len(visible(m)) for m in messages] == [4096, 908]
    assert all(m.html.startswith("<b>") for m in messages)  # the bold tag was closed and reopened
    assert messages[1].html.endswith("</b>tail")


def test_narrow_table_is_monospace_without_csv() -> None:
    messages = render(Reply().table(["host", "ip"], [("a.example", "1.2.3.4"), ("<b>", "&")], title="DNS"))
    [message] = messages
    assert message.html.startswith("<b>DNS</b>\n\n<pre>host")
    assert visible(message).split("\n")[-1].startswith("<b>")


def test_long_table_repeats_its_header_in_each_chunk() -> None:
    rows = [(f"row{i}", "x" * 20) for i in range(400)]
    messages = render(Reply().table(["name", "value"], rows))
    assert len(messages) > 1
    for message in messages:
        assert visible(message).startswith("name ")


def test_wide_table_is_also_attached_as_csv() -> None:
    rows = [("a", "long " * 30, 'quote "me", please')]
    messages = render(Reply().table(["k", "description", "note"], rows, title="Wide one!"))
    assert [m.kind for m in messages] == [Kind.TEXT, Kind.DOCUMENT]
    document = messages[1]
    assert document.filename == "Wide-one.csv"
    assert document.data.decode().splitlines()[1] == 'a,' + "long " * 30 + ',"quote ""me"", please"'
    assert "…" in visible(messages[0])  # the chat copy is cut, the CSV is complete


def test_images_become_photos_with_escaped_captions() -> None:
    reply = Reply.text("see:").attach("c.png", b"png", "image/png", "<caption> & more")
    reply.attach("c.svg", b"<svg/>", "image/svg+xml")
    reply.attach("r.html", b"<html>", "text/html", "report")
    kinds = [(m.kind, m.filename) for m in render(reply)]
    assert kinds == [(Kind.TEXT, ""), (Kind.PHOTO, "c.png"), (Kind.DOCUMENT, "c.svg"), (Kind.DOCUMENT, "r.html")]
    photo = render(reply)[1]
    assert photo.html == "&lt;caption&gt; &amp; more" and photo.data == b"png"


def test_long_caption_goes_out_as_text_before_the_file() -> None:
    caption = "c" * 1100
    messages = render(Reply().attach("a.png", b"png", "image/png", caption))
    assert [m.kind for m in messages] == [Kind.TEXT, Kind.PHOTO]
    assert visible(messages[0]) == caption and messages[1].html == ""


def test_files_over_telegram_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tgr, "PHOTO_MAX_BYTES", 10)
    monkeypatch.setattr(tgr, "UPLOAD_MAX_BYTES", 100)
    reply = Reply().attach("big.png", b"p" * 50, "image/png").attach("huge<x>.bin", b"b" * 101, "x/y")
    messages = render(reply)
    assert [m.kind for m in messages] == [Kind.DOCUMENT, Kind.TEXT]  # big photo as a file; huge one noted
    assert "huge<x>.bin" in visible(messages[1]) and "not sent" in visible(messages[1])


def test_buttons_go_on_the_last_text_message_with_tokens() -> None:
    yes, no = Button("Yes <b>", "/confirm"), Button("No", "/cancel")
    reply = Reply.text("sure?").attach("a.png", b"p", "image/png").buttons([yes, no])
    reply.parts.insert(0, Reply.text("first").parts[0])
    messages = render(reply, {yes: "tok-yes", no: "tok-no"})
    assert [m.kind for m in messages] == [Kind.TEXT, Kind.PHOTO]
    markup = messages[0].keyboard
    assert markup is not None
    assert [(b.text, b.callback_data) for b in markup.inline_keyboard[0]] == [("Yes <b>", "tok-yes"),
                                                                            ("No", "tok-no")]


def test_buttons_alone_still_get_a_message() -> None:
    button = Button("Go", "/go")
    [message] = render(Reply().buttons([button]), {button: "t"})
    assert message.kind is Kind.TEXT and message.keyboard is not None and visible(message)


def test_oversized_callback_data_is_refused() -> None:
    button = Button("Go", "/go")
    with pytest.raises(ValueError, match="64 bytes"):
        render(Reply.text("x").buttons([button]), {button: "é" * 33})


def test_silent_replies_send_silently() -> None:
    reply = Reply.text("quiet").attach("a.csv", b"x", "text/csv")
    reply.silent = True
    assert all(m.silent for m in render(reply))


def test_progress_shows_the_first_chunk_only() -> None:
    assert render_progress(Reply.text("step ", bold("2"), " of 3")) == "step <b>2</b> of 3"
    assert utf16_len(parse_html(render_progress(Reply.text("x" * 9000)))[0]) <= 4096


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list("ab <>&\"'\n😀é\u202e")), max_size=3000), max_size=4))
def test_any_text_renders_to_valid_messages_without_losing_text(paragraphs: list[str]) -> None:
    reply = Reply()
    for text in paragraphs:
        reply.para(text[: len(text) // 2], bold(text[len(text) // 2 :]))
    messages = render(reply, limit=1000)
    seen = "".join(visible(m) for m in messages)  # parse_html raises on anything Telegram would reject
    assert all(utf16_len(visible(m)) <= 1000 for m in messages)
    expected = "".join(paragraphs).replace("\u202e", "")
    assert re.sub(r"\s", "", seen) == re.sub(r"\s", "", expected)
