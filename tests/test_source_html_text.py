"""HTML → plain text with entities decoded, and the links, mentions and hashtags in it."""

from __future__ import annotations

from handlers.monitor.sources.html_text import find_hashtags, find_mentions, find_urls, html_text, plain_text


def test_mastodon_markup() -> None:
    result = html_text(
        '<p><span class="h-card"><a href="https://m.test/@bob" class="u-url mention">@<span>bob</span></a></span> '
        'see <a href="https://ex.com/a"><span class="invisible">https://</span>ex.com/a</a> '
        '<a href="https://m.test/tags/osint" class="mention hashtag" rel="tag">#<span>OSINT</span></a> '
        "&amp; &lt;b&gt; caf&eacute;</p><p>two<br>three</p>"
    )
    assert result.text == "@bob see https://ex.com/a #OSINT & <b> café\n\ntwo\nthree"
    assert (result.urls, result.mentions, result.hashtags) == (["https://ex.com/a"], ["bob"], ["OSINT"])


def test_4chan_style_markup_and_double_encoding_kept() -> None:
    result = html_text('Text<br><span class="quote">&gt;green</span><br><a href="#p1">&gt;&gt;1</a> '
                       "http://exam<wbr>ple.com/x. &amp;lt;literal&amp;gt;<script>alert(1)</script>")
    assert result.text == "Text\n>green\n>>1 http://example.com/x. &lt;literal&gt;"
    assert result.urls == ["http://example.com/x"]


def test_plain_text_entities_and_extraction() -> None:
    result = plain_text("Привет @alice.bsky.social #тест https://x.org/a_(b). mail a@b.com &amp; #123")
    assert result.text == "Привет @alice.bsky.social #тест https://x.org/a_(b). mail a@b.com & #123"
    assert result.urls == ["https://x.org/a_(b)"]
    assert result.mentions == ["alice.bsky.social"]  # not the e-mail address
    assert result.hashtags == ["тест"]  # not the bare number


def test_finders_ignore_url_fragments_and_empty_input() -> None:
    assert find_hashtags("https://site.example/page#section and #real") == ["real"]
    assert find_mentions("https://mastodon.example/@bob and @carol@mastodon.example") == ["carol@mastodon.example"]
    assert find_urls("no links") == []
    assert html_text(None).text == "" and html_text("   ").text == ""
