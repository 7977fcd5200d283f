"""The analyst's first hour, scripted through real processes: `socmint import` of a year-old Telegram export and
a JSONL, then the console — /search, /watch test --since 400d, /watch add, /watch matches and every analysis on
the imported set with `all`. Posts are stamped relative to now (the clock may be moved by `make test-travel`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def socmint(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run the CLI on this test's data folder; PYTHONPATH keeps the clock-travel hook when the session has it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCMINT_") or k == "SOCMINT_TEST_TRAVEL"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(ROOT)]))
    env["SOCMINT_DATA_DIR"] = str(cwd / "data")
    result = subprocess.run([sys.executable, "-m", "bot.cli", *args], input=stdin, capture_output=True, text=True,
                            cwd=cwd, env=env, timeout=300)
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    return result


def telegram_export(year_ago: datetime) -> dict[str, object]:
    """A public group's export: a lockbit discussion a year ago, with a repeated call to action and a service line."""
    people = [("Ann", "user101"), ("Bob", "user102"), ("Cy", "user103"), ("Dee", "user104")]
    lines = [
        "lockbit affiliates are recruiting again, see hxxps://leak-site[.]com/join",
        "the lockbit panel moved to 185.220.101.4, terrible opsec",
        "great news: the police took down a lockbit server",
        "anyone seen the new conti builds? awful quality",
        "lockbit posted the hospital data, this is horrible",
    ]
    messages: list[dict[str, object]] = []
    for i in range(20):
        name, ident = people[i % len(lines) % len(people)]  # each line from one person: no false clusters
        at = year_ago + timedelta(hours=3 * i)
        messages.append({"id": i + 1, "type": "message", "date": at.strftime("%Y-%m-%dT%H:%M:%S"),
                         "date_unixtime": str(int(at.timestamp())), "from": name, "from_id": ident,
                         "text": lines[i % len(lines)] + f" (#{i})",
                         **({"reply_to_message_id": i} if i % 3 == 1 else {})})
    for n, (name, ident) in enumerate(people[:3]):  # the same words from three people: a coordination signal
        at = year_ago + timedelta(days=2, minutes=n)
        messages.append({"id": 100 + n, "type": "message", "date_unixtime": str(int(at.timestamp())), "from": name,
                         "from_id": ident, "text": "Everyone report the lockbit leak channel now, copy this message"})
    messages.append({"id": 200, "type": "service", "date_unixtime": str(int(year_ago.timestamp())), "actor": "Ann",
                     "action": "pin_message"})
    return {"name": "Threat chat", "type": "public_supergroup", "id": 777, "messages": messages}


def jsonl_posts(year_ago: datetime) -> str:
    """Forum posts from the same time: one repeated id and one bad date, reported by line."""
    rows: list[object] = [
        {"id": f"f{i}", "text": f"lockbit negotiator replied to @victim{i % 2} about the ransom {i}",
         "author": f"negotiator{i % 2}", "created_at": (year_ago + timedelta(hours=i)).isoformat(), "lang": "en"}
        for i in range(6)
    ]
    rows.append({"id": "f0", "text": "lockbit the same id again", "author": "negotiator0"})
    rows.append({"id": "bad", "text": "lockbit on a day that is not a date", "created_at": "last Tuesday"})
    return "".join(json.dumps(row) + "\n" for row in rows)


def test_first_hour_with_a_year_old_archive(tmp_path: Path) -> None:
    year_ago = datetime.now(UTC).replace(microsecond=0) - timedelta(days=395)
    (tmp_path / "result.json").write_text(json.dumps(telegram_export(year_ago)))
    (tmp_path / "forum.jsonl").write_text(jsonl_posts(year_ago))

    imported = socmint("import", "result.json", cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    out = imported.stdout
    assert "imported       23" in out and "1 skipped: service message (Threat chat: message 200)" in out

    forum = socmint("import", "forum.jsonl", "--source", "forum", cwd=tmp_path)
    assert forum.returncode == 0, forum.stderr
    assert "imported       6" in forum.stdout
    assert "1 already stored (same source id)" in forum.stdout or "1 repeated in the file" in forum.stdout
    assert "1 bad: created_at: 'last Tuesday' is not ISO 8601 or epoch seconds on line 8" in forum.stdout

    script = "\n".join([
        "/search lockbit",
        "/search lockbit --source forum --page 1",
        "/watch test lockbit",
        "/watch test lockbit --since 400d",
        "/watch add lockbit",
        "/watch matches 1",
        "/watch matches 1 --page 2",
        "/watch show 1 --since 400d",
        "/sentiment all",
        "/sentiment 1",
        "/network all",
        "/iocs all",
        "/coord all",
        "/trends all --since all",
        "/geo all",
        "/profile forum negotiator0 --since all",
        "/sentiment all --since 30d",
    ]) + "\n"
    console = socmint("console", cwd=tmp_path, stdin=script)
    assert console.returncode == 0, console.stderr
    text = console.stdout
    replies = text.split("\n\n")

    def reply_to(marker: str) -> str:
        return next(r for r in replies if marker in r)

    assert "25 matching all stored posts" in text  # 16 chat lines, the call repeated by 3, 6 forum posts
    assert "hxxps://leak-site[.]com/join" in text  # snippets stay defanged
    assert "6 matching all stored posts of forum" in text
    assert "would have matched 0 of 0 stored posts from the last 7 days" in text
    assert "Widen it: /watch test lockbit --since all" in text
    assert "would have matched 25 of 29 stored posts from the last 400 days" in text
    assert "It matches 25 stored posts already stored (29 read)" in text
    assert "25 matches among all stored posts, page 1 of 3" in text
    assert "11. " in text and "matched over" in text and "every stored post" in text
    assert "Sentiment of all stored posts" in text and "Sentiment of watch #1 (lockbit)" in text
    assert "Network of all stored posts: 8 accounts" in text and "@ann (user101)" in text  # export senders count
    assert reply_to("IOCs in all stored posts") and "185.220.101.4" in text and "leak-site.com" in text
    assert "Coordination signals in all stored posts: 1 cluster(s)" in text
    assert "@ann (user101), @bob (user102), @cy (user103)" in reply_to("Cluster 1")
    assert "Trends: all stored posts" in text
    assert "Locations in all stored posts: 0 of 29 posts" in text
    assert "Profile of forum:negotiator0" in text
    assert "No stored posts for all stored posts among stored posts from the last 30 days" in text
    assert "failed unexpectedly" not in text
