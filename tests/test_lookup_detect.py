"""Type detection for /lookup and defanging both ways."""

from __future__ import annotations

import pytest

from handlers.lookup.defang import defang_email, defang_url, is_defanged, refang
from handlers.lookup.detect import Kind, detect


@pytest.mark.parametrize(
    ("query", "kind", "value"),
    [
        ("hxxp://evil[.]com/login", Kind.URL, "http://evil.com/login"),
        ("hXXps[://]evil[.]com", Kind.URL, "https://evil.com"),
        ("https://example.com/a?b=1", Kind.URL, "https://example.com/a?b=1"),
        ("evil[.]com", Kind.DOMAIN, "evil.com"),
        ("Sub.Example.COM.", Kind.DOMAIN, "sub.example.com"),
        ("bücher.de", Kind.DOMAIN, "xn--bcher-kva.de"),
        ("jane.doe[@]example[.]com", Kind.EMAIL, "jane.doe@example.com"),
        ("jane+tag@example.com", Kind.EMAIL, "jane+tag@example.com"),
        ("8.8.8[.]8", Kind.IP, "8.8.8.8"),
        ("[2606:4700::1111]", Kind.IP, "2606:4700::1111"),
        ("cve-2021-44228", Kind.CVE, "CVE-2021-44228"),
        ("d41d8cd98f00b204e9800998ecf8427e", Kind.HASH, "d41d8cd98f00b204e9800998ecf8427e"),
        ("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", Kind.HASH,
         "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("+44 20 7946 0958", Kind.PHONE, "+44 20 7946 0958"),
        ("(650) 253-0000", Kind.PHONE, "(650) 253-0000"),
        ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", Kind.WALLET, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),
        ("0x52908400098527886E0F7030069857D2E4169EE7", Kind.WALLET, "0x52908400098527886E0F7030069857D2E4169EE7"),
        ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", Kind.USERNAME, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"),
        ("@some_user", Kind.USERNAME, "some_user"),
        ("john_smith.99", Kind.USERNAME, "john_smith.99"),
        ("two words here", Kind.UNKNOWN, "two words here"),
    ],
)
def test_detect(query: str, kind: Kind, value: str) -> None:
    found = detect(query)
    assert (found.kind, found.value) == (kind, value)


def test_detect_reports_defanged_input_and_hash_algorithm() -> None:
    assert detect("hxxp://evil[.]com").defanged
    assert not detect("http://evil.com").defanged
    assert detect("a" * 40).detail == "SHA-1"


@pytest.mark.parametrize(
    ("defanged", "plain"),
    [
        ("hxxps://evil[.]com/a[.]php", "https://evil.com/a.php"),
        ("hxxp[:]//10[.]0[.]0[.]1", "http://10.0.0.1"),
        ("evil(dot)com", "evil.com"),
        ("evil{.}co[.]uk", "evil.co.uk"),
        ("user[at]evil[.]com", "user@evil.com"),
        ("fxp://files[.]evil[.]com", "ftp://files.evil.com"),
        ("evil\\.com", "evil.com"),
        ("hxxps[://]evil[.]com", "https://evil.com"),
        ("http:\\\\evil[.]com", "http://evil.com"),
        ("10.10.10.]]]10", "10.10.10.10"),
        ("evil [ . ] com", "evil.com"),
    ],
)
def test_refang(defanged: str, plain: str) -> None:
    assert refang(defanged) == plain
    assert is_defanged(defanged)


def test_defang_round_trips() -> None:
    url = "https://login.evil.com:8443/a.php?x=1.2"
    defanged = defang_url(url)
    assert defanged == "hxxps://login[.]evil[.]com:8443/a.php?x=1.2"
    assert "evil.com" not in defanged
    assert refang(defanged) == url
    assert defang_email("a.b@evil.com") == "a.b[@]evil[.]com"
    assert refang(defang_email("a.b@evil.com")) == "a.b@evil.com"
