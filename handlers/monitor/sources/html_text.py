"""HTML and plain post text → plain text plus the links, @mentions and #hashtags in it."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser, LexborNode

BLOCK_TAGS = frozenset(
    {"p", "div", "li", "ul", "ol", "blockquote", "pre", "tr", "table", "section", "article",
     "header", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "dd", "dt", "figure", "figcaption"}
)
SKIP_TAGS = frozenset({"script", "style", "template", "noscript", "head", "title"})

URL_RE = re.compile(r"""https?://[^\s<>"'\u00a0]+""", re.IGNORECASE)
# A hashtag or mention starts after whitespace, punctuation or the start of the text (not inside a word/URL).
HASHTAG_RE = re.compile(r"(?:(?<=^)|(?<=[\s(\[{,;:!?.\"'«“]))#(\w[\w\u00b7\u200c]*)", re.UNICODE)
MENTION_RE = re.compile(
    r"(?:(?<=^)|(?<=[\s(\[{,;:!?\"'«“]))@([A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_])?"
    r"(?:@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)?)"
)
URL_TRAILING = ".,;:!?)]}'\"»”"


@dataclass
class PlainText:
    """Plain text taken from a post, with what it links to, mentions and tags (each de-duplicated, in order)."""

    text: str
    urls: list[str] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)
    hashtags: list[str] = field(default_factory=list)


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


def _tidy(text: str) -> str:
    """Trim spaces at line ends and squeeze runs of blank lines to one."""
    lines = [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def clean_url(url: str) -> str:
    """A URL found in running text without the punctuation that ended the sentence."""
    url = url.rstrip(URL_TRAILING)
    if url.count("(") > url.count(")"):  # a bracket opened inside the URL (Wikipedia) keeps its closer
        url += ")"
    return url


def find_urls(text: str) -> list[str]:
    """http(s) URLs written in plain text."""
    if "://" not in text:  # most posts: no regex pass at all (the firehose parses every post)
        return []
    return _dedupe([clean_url(m.group(0)) for m in URL_RE.finditer(text)])


def find_hashtags(text: str) -> list[str]:
    """#hashtags in plain text (without '#', case kept), skipping URL fragments."""
    if "#" not in text:
        return []
    stripped = URL_RE.sub(" ", text)
    return _dedupe([m.group(1) for m in HASHTAG_RE.finditer(stripped) if not m.group(1).isdigit()])


def find_mentions(text: str) -> list[str]:
    """@mentions in plain text (without '@'; `user@host` kept whole), skipping e-mail addresses and URLs."""
    if "@" not in text:
        return []
    stripped = URL_RE.sub(" ", text)
    return _dedupe([m.group(1) for m in MENTION_RE.finditer(stripped)])


def plain_text(text: str | None) -> PlainText:
    """Already-plain text (a Bluesky record, a title) with entities decoded and its URLs/mentions/tags."""
    text = _tidy(html.unescape(text or ""))
    return PlainText(text, find_urls(text), find_mentions(text), find_hashtags(text))


def _anchor_kind(node: LexborNode) -> str:
    """'mention', 'hashtag' or 'link' for an <a>, from Mastodon/Lemmy microformat classes and rel."""
    classes = (node.attributes.get("class") or "").split()
    rel = (node.attributes.get("rel") or "").split()
    if "hashtag" in classes or "tag" in rel:
        return "hashtag"
    if "mention" in classes:
        return "mention"
    return "link"


def _walk(root: LexborNode, out: list[str], anchors: list[LexborNode]) -> None:
    """Append the text of `root` to `out`, newlines around blocks and at <br>; collect <a> nodes."""
    stack: list[LexborNode | str] = [root]
    pre_depth = 0
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if item == "</pre>":
                pre_depth -= 1
            else:
                out.append(item)
            continue
        tag = item.tag
        if tag == "-text":
            value = item.text_content or ""
            out.append(value if pre_depth else re.sub(r"[ \t\r\n\f]+", " ", value))
            continue
        if tag in SKIP_TAGS or tag == "-comment":
            continue
        if tag == "br":
            out.append("\n")
            continue
        if tag == "img":
            alt = item.attributes.get("alt")
            if alt:  # custom emoji and inline images keep their alt text (e.g. ":blobcat:")
                out.append(alt)
            continue
        if tag == "a":
            anchors.append(item)
        block = tag in BLOCK_TAGS
        if block:
            out.append("\n\n" if tag == "p" else "\n")  # a <p> starts a paragraph even after bare text
        if tag == "pre":
            pre_depth += 1
            stack.append("</pre>")
        if block:
            stack.append("\n")
        children = list(item.iter(include_text=True))
        stack.extend(reversed(children))


def html_text(markup: str | None) -> PlainText:
    """Plain text from an HTML fragment (Mastodon content, HN comment, 4chan com, feed summaries).

    Entities are decoded, <br>/<p> become newlines, <wbr> vanishes; links come from hrefs,
    mentions/hashtags from Mastodon-style anchors and from the text itself.
    """
    if not markup or not markup.strip():
        return PlainText("")
    if "<" not in markup:
        return plain_text(markup)
    tree = LexborHTMLParser(markup)
    root = tree.body or tree.root
    if root is None:
        return plain_text(markup)
    out: list[str] = []
    anchors: list[LexborNode] = []
    _walk(root, out, anchors)
    text = _tidy("".join(out))  # the parser has decoded entities once; decoding again would corrupt "&amp;lt;"
    urls: list[str] = []
    mentions: list[str] = []
    hashtags: list[str] = []
    for anchor in anchors:
        href = (anchor.attributes.get("href") or "").strip()
        label = (anchor.text(deep=True) or "").strip()
        kind = _anchor_kind(anchor)
        if kind == "hashtag":
            hashtags.append(label.lstrip("#"))
        elif kind == "mention":
            mentions.append(label.lstrip("@"))
        elif href.lower().startswith(("http://", "https://")):
            urls.append(href)
    urls += find_urls(text)
    mentions += find_mentions(text)
    hashtags += find_hashtags(text)
    return PlainText(text, _dedupe(urls), _dedupe(mentions), _dedupe(hashtags))
