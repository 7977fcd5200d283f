"""Top-level domains from the Public Suffix List, shipped offline: tldextract's bundled snapshot.

The extractor is built with no suffix-list URL and no cache folder, so nothing is fetched or written:
the list is the one in the installed tldextract package (upgrade it to refresh the list).
"""

from __future__ import annotations

import functools

import tldextract

# TLDs that are also common file extensions: `setup.py`, `invoice.zip`, `notes.md` are far more often
# file names than domains, so a name ending in one counts as a domain only with more evidence.
FILE_EXTENSION_TLDS = frozenset(
    {"zip", "mov", "py", "sh", "md", "pl", "rs", "ps", "so", "pm", "sx", "mo", "cab", "java", "inc", "fish", "mobi",
     "bz"}
)


@functools.cache
def _tlds() -> frozenset[str]:
    extractor = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)
    tops: set[str] = set()
    for suffix in extractor.tlds:
        top = suffix.rsplit(".", 1)[-1].lower()
        tops.add(top)
        try:
            tops.add(top.encode("idna").decode("ascii"))
        except UnicodeError:
            continue
    return frozenset(tops)


def is_tld(label: str) -> bool:
    """Whether `label` (any case, Unicode or punycode) is a top-level domain in the Public Suffix List."""
    return label.lower() in _tlds()
