"""Site lists: WhatsMyName read natively, Sherlock and Maigret converted into the same model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from handlers.lookup.sweep.site import FormatError, NotApplicable, Observed, Site
from handlers.lookup.sweep.sitelist import builtin_sites, not_asked, read_site_file, select
from handlers.lookup.sweep.verdict import Status, judge

FIXTURES = Path(__file__).parent / "fixtures" / "sweep"
SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "sites"


def by_name(path: Path) -> dict[str, Site]:
    return {s.name: s for s in read_site_file(path).sites}


def verdict(site: Site, status: int, body: str = "", location: str | None = None, **headers: str) -> Status:
    return judge(site, Observed(status, body, location), headers).status


def test_wmn_fields_become_rules_and_requests() -> None:
    sites = by_name(FIXTURES / "wmn_small.json")
    hub = sites["CodeHub"]
    assert verdict(hub, 200, '{"login": "octo"}') is Status.FOUND
    assert verdict(hub, 404, '{"message": "Not Found"}') is Status.NOT_FOUND
    assert verdict(hub, 404, "gateway page") is Status.UNKNOWN  # missing needs its message too
    assert verdict(hub, 200, "<html>sign in</html>") is Status.UNKNOWN
    assert hub.probe("octo").profile_url == "https://codehub.example/octo"

    chatter = sites["Chatter"]
    probe = chatter.probe("amy.b")
    assert probe.url == "https://amyb.chatter.example/" and not probe.follow_redirects
    assert verdict(chatter, 302, "", "https://chatter.example/") is Status.NOT_FOUND
    with pytest.raises(NotApplicable):
        chatter.probe("amy_b")  # an underscore cannot be part of a host name

    quiz = sites["Quiz"].probe("q1")
    assert (quiz.method, quiz.body) == ("POST", '{"name":"q1"}')
    assert "User-Agent" not in quiz.headers and quiz.headers["Content-Type"] == "application/json"
    assert verdict(sites["Quiz"], 200, '{"taken":false}') is Status.NOT_FOUND
    assert sites["Gone"].disabled


def test_wmn_list_is_credited_and_adult_sites_need_asking() -> None:
    site_list = read_site_file(FIXTURES / "wmn_small.json")
    assert site_list.credit and "CC BY-SA 4.0" in site_list.credit and "Micah Hoffman" in site_list.credit
    assert [s.name for s in select(site_list.sites)] == ["CodeHub", "Chatter", "Quiz"]
    assert [s.name for s in select(site_list.sites, category="xx nsfw xx")] == ["Adult"]
    assert [s.name for s in select(site_list.sites, only=["quiz", " codehub"])] == ["CodeHub", "Quiz"]
    assert not_asked(site_list.sites) == ["1 disabled in the site list", "1 adult sites (ask with --category "
                                          "'xx NSFW xx')"]
    assert not_asked(site_list.sites, only=["quiz", "nosuch"]) == ["1 disabled in the site list",
                                                                  "not in the site list: nosuch"]


def test_sherlock_error_types_convert() -> None:
    sites = by_name(FIXTURES / "sherlock_small.json")
    status = sites["StatusSite"]
    assert status.probe("blue").url == "https://status.example/blue" and status.follow_redirects
    assert verdict(status, 200, "anything") is Status.FOUND
    assert verdict(status, 404) is Status.NOT_FOUND
    assert verdict(status, 503) is Status.UNKNOWN
    assert verdict(status, 200, "<title>Just a moment...</title>") is Status.UNKNOWN

    message = sites["MessageSite"]
    assert message.category == "xx NSFW xx" and message.known == ("blue",)
    assert verdict(message, 200, "<h1>User not found</h1>") is Status.NOT_FOUND
    assert verdict(message, 200, "<h1>blue</h1>") is Status.FOUND
    assert verdict(message, 404, "plain 404") is Status.UNKNOWN  # Sherlock would say "claimed" here
    with pytest.raises(NotApplicable):
        message.probe("BL")  # regexCheck

    redirect = sites["RedirectSite"]
    assert not redirect.follow_redirects and redirect.category == "gaming"
    assert verdict(redirect, 301, "", "https://redirect.example/") is Status.NOT_FOUND

    probe_site = sites["ProbeSite"]
    probe = probe_site.probe("blue")
    assert (probe.method, probe.url, probe.profile_url) == ("POST", "https://api.probe.example/v1/blue",
                                                            "https://probe.example/blue")
    assert json.loads(probe.body or "") == {"name": "blue"}
    assert verdict(probe_site, 410) is Status.NOT_FOUND
    assert verdict(probe_site, 200, "gone fishing") is Status.NOT_FOUND
    assert verdict(probe_site, 200, "hello") is Status.FOUND


def test_maigret_engines_errors_and_types_convert() -> None:
    sites = by_name(FIXTURES / "maigret_small.json")
    assert "QQLike" not in sites  # not a username site
    forum = sites["ForumOne"]
    assert forum.probe("admin").url == "https://forum.example/members/?username=admin"
    assert forum.category == "forum"
    assert verdict(forum, 200, "<div class=memberHeader>") is Status.FOUND
    assert verdict(forum, 200, "The specified member cannot be found") is Status.NOT_FOUND
    assert verdict(forum, 200, "welcome") is Status.UNKNOWN

    msg = sites["MsgSite"]
    assert verdict(msg, 200, "Please solve the puzzle") is Status.UNKNOWN
    assert judge(msg, Observed(200, "Please solve the puzzle"), {}).reason.startswith("blocked: Captcha")

    code = sites["CodeSite"]
    assert code.probe("red").url == "https://api.code.example/u/red"
    assert verdict(code, 403) is Status.NOT_FOUND  # ignore403: a 403 is an answer here
    assert sites["HomeRedirect"].disabled and not sites["HomeRedirect"].follow_redirects


def test_builtin_list_is_valid_wmn() -> None:
    site_list = builtin_sites()
    assert 30 <= len(site_list.sites) <= 50
    for site in site_list.sites:
        assert site.known and site.check_url.startswith("https://")
        assert site.probe(site.known[0]).url.startswith("https://")


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"hello": 1}')
    with pytest.raises(FormatError, match="not a WhatsMyName, Sherlock or Maigret"):
        read_site_file(path)


@pytest.mark.samples
@pytest.mark.skipif(not SAMPLES.exists(), reason="../shared/samples not present")
@pytest.mark.parametrize(("filename", "at_least"), [
    ("whatsmyname_wmn-data.json", 500), ("sherlock_data.json", 400), ("maigret_data.json", 2000),
])
def test_published_lists_load(filename: str, at_least: int) -> None:
    sites = read_site_file(SAMPLES / filename).sites
    assert len(sites) >= at_least
    assert all(s.found.statuses or s.found.texts for s in sites)
