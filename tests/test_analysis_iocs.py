"""IOC extraction: defanged forms found, tricky look-alikes rejected; precision and recall on a corpus."""

from __future__ import annotations

from handlers.analysis.iocs import IOC, IOCKind, extract_iocs
from handlers.lookup.defang import refang_marked

K = IOCKind
CORPUS: list[tuple[str, set[IOC]]] = [
    (
        "C2 at hxxp://bad-domain[.]com/gate.php today",
        {IOC(K.URL, "http://bad-domain.com/gate.php"), IOC(K.DOMAIN, "bad-domain.com")},
    ),
    (
        "payload from hXXps[:]//cdn.evil(.)ru/x.bin",
        {IOC(K.URL, "https://cdn.evil.ru/x.bin"), IOC(K.DOMAIN, "cdn.evil.ru")},
    ),
    ("beacons to 185.220.101[.]4 and 45.9.148.12.", {IOC(K.IPV4, "185.220.101.4"), IOC(K.IPV4, "45.9.148.12")}),
    (
        "contact ops[at]leak-site(dot)onion or admin@corp.example.com",
        {IOC(K.EMAIL, "ops@leak-site.onion"), IOC(K.EMAIL, "admin@corp.example.com"),
         IOC(K.DOMAIN, "leak-site.onion"), IOC(K.DOMAIN, "corp.example.com")},
    ),
    (
        "sample md5 44d88612fea8a8f36de82e1278abb02f sha1 3395856ce81f2b7382dee72602f798b642f14140",
        {IOC(K.MD5, "44d88612fea8a8f36de82e1278abb02f"), IOC(K.SHA1, "3395856ce81f2b7382dee72602f798b642f14140")},
    ),
    (
        "sha256: 275A021BBFB6489E54D471899F7DB9D1663FC695EC2FE2A2C4538AABF651FD0F",
        {IOC(K.SHA256, "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f")},
    ),
    ("patch cve-2024-3400 and CVE-2021-44228 now", {IOC(K.CVE, "CVE-2024-3400"), IOC(K.CVE, "CVE-2021-44228")}),
    (
        "ransom to 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa or bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
        {IOC(K.BTC, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"), IOC(K.BTC, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq")},
    ),
    ("eth 0x52908400098527886E0F7030069857D2E4169EE7", {IOC(K.ETH, "0x52908400098527886e0f7030069857d2e4169ee7")}),
    ("new phishing kit on login-micros0ft[.]zip", {IOC(K.DOMAIN, "login-micros0ft.zip")}),
    ("see evil[.]example[.]net for details", {IOC(K.DOMAIN, "evil.example.net")}),
    # negatives: version numbers, file names, look-alike hashes and wallets, ordinary prose
    ("upgraded to v1.2.3.4 and then version 2.0.0.1, build 10.0.19041.1", set()),
    ("run setup.py then unzip invoice.zip and open README.md, config.sh", set()),
    ("order id 12345678901234567890123456789012 and aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", set()),
    ("not a wallet: 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb (bad checksum)", set()),
    ("ratio 3.14.15.9265 and 999.1.1.1 are not addresses", set()),
    ("e.g. this is fine, i.e. nothing here. Node.js and ASP.NET are frameworks", set()),
    ("CVE-ish: CVE-24-1 is malformed", set()),
]


def test_precision_and_recall_on_the_corpus() -> None:
    expected = {(i, ioc) for i, (_, iocs) in enumerate(CORPUS) for ioc in iocs}
    found = {(i, ioc) for i, (text, _) in enumerate(CORPUS) for ioc in extract_iocs(text)}
    tp = len(expected & found)
    precision, recall = tp / len(found), tp / len(expected)
    assert precision >= 0.95, sorted(found - expected)
    assert recall >= 0.95, sorted(expected - found)


def test_every_negative_line_yields_nothing() -> None:
    for text, iocs in CORPUS:
        if not iocs:
            assert extract_iocs(text) == [], text


def test_refang_marks_where_it_changed_the_text() -> None:
    text, marks = refang_marked("a[.]b hxxp://x")
    assert text == "a.b http://x"
    assert marks == [1, 4]


def test_defanged_fileish_tld_counts_but_plain_file_name_does_not() -> None:
    assert extract_iocs("evil[.]zip") == [IOC(K.DOMAIN, "evil.zip")]
    assert extract_iocs("evil.zip") == []


def test_one_refang_serves_lookups_cases_and_extraction() -> None:
    from handlers.cases import entities as ent
    from handlers.lookup.detect import detect

    for written in ("hxxps[://]evil[.]com/a", "hXXps://evil[dot]com/a", "https://evil\\.com/a", "fxp://evil[.]com/a"):
        scheme = "ftp" if written.startswith("fxp") else "https"
        url = f"{scheme}://evil.com/a"
        assert detect(written).value == url, written
        assert ent.parse(written).value == url, written
        assert IOC(K.URL, url) in extract_iocs(f"seen {written} today"), written


def test_tlds_come_from_the_public_suffix_list_without_the_network(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import socket

    from handlers.lookup import tlds

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the suffix list must not be fetched")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    tlds._tlds.cache_clear()
    found = extract_iocs("a.sbs b.download c.youtube d.tl report.pdf e.local")
    assert {i.value for i in found} == {"a.sbs", "b.download", "c.youtube", "d.tl"}


def test_ipv6_and_sha512_and_monero_are_typed() -> None:
    sha512 = ("be688838ca8686e5c90689bf2ab585cef1137c999b48c70b92f67a5c34dc15697b5d11c982ed6d71be1e1e7f7b4e07"
              "33884aa97c3f7a339a8ed03577cf74be09")
    xmr = "496aKKdqF1xQSSEzw7wNrkZkDUsCD5cSmNCfVhVgEps52WERBcLDGzdF5UugmFoHMm9xRJdewvK2TFfAJNwEV25rTcVF5Vp"
    found = extract_iocs(f"c2 2001:0db8:0000::0001 drop {sha512} pay {xmr}")
    assert found == sorted([IOC(K.IPV6, "2001:db8::1"), IOC(K.SHA512, sha512), IOC(K.XMR, xmr)])


def test_eth_address_is_not_also_a_sha1() -> None:
    kinds = {i.kind for i in extract_iocs("0x52908400098527886E0F7030069857D2E4169EE7")}
    assert kinds == {K.ETH}


def test_extract_and_store_is_idempotent_and_pivots(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from handlers.analysis.ioc_index import extract_and_store, posts_with
    from handlers.monitor.post import Author, Post
    from storage.db import Database

    db = Database(f"sqlite:///{tmp_path / 'iocs.db'}")
    db.migrate()
    at = datetime(2026, 5, 1, tzinfo=UTC)
    with db.session() as session:
        rows = [
            Post("s", str(i), f"seen 45.9.148.12 and evil[.]com #{i}", at, Author("a", "a")).to_row() for i in range(3)
        ]
        session.add_all(rows)
        session.flush()
        assert extract_and_store(session, rows) == 6
        assert extract_and_store(session, rows) == 0
        found = posts_with(session, K.IPV4, "45.9.148.12")
        assert sorted(p.source_id for p in found) == ["0", "1", "2"]
        session.delete(rows[0])  # deleting a post drops its indicators with it
        session.flush()
        assert len(posts_with(session, K.DOMAIN, "evil.com")) == 2
    db.close()
