"""Retro-hunt benchmark: `socmint match` as a whole process against the same hunt with an alternation regex.

    python -m bench.retrohunt                 # 10,000 watches x 100,000 posts, each process run twice

Every side is a whole process started the same way, timed from start to exit (start-up, imports, reading
the JSONL, matching, writing one JSON line per match): the shipped `socmint match` (one process per usable
core, its default), the same with `--jobs 1`, and the same hunt in one process (`handlers/monitor/retrohunt.py`,
same reader, same evaluation and output) whose text terms are found by one `re` alternation instead of the
token index (`bench.finders regex`). The ratio against the regex is given for both of ours. Posts and watches
are the matcher benchmark's (bench/matcher.py), written to a temporary folder. The matches are compared.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.matcher import SEED, make_posts, make_watches, make_world

RUNS = 2  # each side; the regex side takes minutes a run


def write_inputs(folder: Path, n_watches: int, n_posts: int) -> tuple[Path, Path]:
    rng = random.Random(SEED)
    world = make_world(rng)
    posts = make_posts(rng, world, n_posts)
    queries = make_watches(random.Random(SEED + 1), world, n_watches)
    watches = folder / "watches.txt"
    watches.write_text("".join(f"{i}\t{q.text}\n" for i, q in enumerate(queries, 1)), encoding="utf-8")
    jsonl = folder / "posts.jsonl"
    with jsonl.open("w", encoding="utf-8") as out:
        for p in posts:
            out.write(json.dumps({"id": p.source_id, "text": p.text, "source": p.source, "lang": p.lang,
                                  "author": p.author.handle, "created_at": "2024-05-01T00:00:00Z"},
                                 ensure_ascii=False) + "\n")
    return watches, jsonl


def timed(command: list[str], out: Path) -> float:
    """Wall seconds of one process, its stdout to `out`."""
    started = time.perf_counter()
    with out.open("wb") as sink:
        subprocess.run(command, stdout=sink, stderr=subprocess.DEVNULL, check=True, env={**os.environ})
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watches", type=int, default=10_000)
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args()
    socmint = str(Path(sys.executable).with_name("socmint"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        watches, posts = write_inputs(folder, args.watches, args.posts)
        size = posts.stat().st_size / 2**20
        print(f"retro-hunt: {args.watches:,} watches x {args.posts:,} posts ({size:.0f} MiB JSONL), "
              f"whole processes, wall time, {args.runs} runs each")
        files = ["--watches", str(watches), "--posts", str(posts)]
        sides = {
            "socmint match": [socmint, "match", *files],
            "socmint match -j1": [socmint, "match", *files, "--jobs", "1"],
            "alternation regex": [sys.executable, "-m", "bench.finders", "regex", *files, "--jobs", "1"],
        }
        results: dict[str, list[float]] = {}
        outputs: dict[str, Path] = {}
        for _ in range(args.runs):  # in turn, so that a slow spell of the machine falls on both
            for name, command in sides.items():
                outputs[name] = folder / f"{name.replace(' ', '_')}.jsonl"
                results.setdefault(name, []).append(timed(command, outputs[name]))
        for name, times in results.items():
            print(f"  {name:18} min {min(times):7.2f} s  median {statistics.median(times):7.2f} s  "
                  f"({args.posts / min(times):,.0f} posts/s)")
        regex = results["alternation regex"]
        for name in ("socmint match", "socmint match -j1"):
            ours = results[name]
            print(f"  ratio (regex / {name}): min {min(regex) / min(ours):.1f}x, "
                  f"median {statistics.median(regex) / statistics.median(ours):.1f}x (target >= 30x)")
        print(f"  {len(os.sched_getaffinity(0))} usable cores, load average {os.getloadavg()[0]:.1f} at the end")
        found = {name: sum(1 for _ in path.open(encoding="utf-8")) for name, path in outputs.items()}
        assert outputs["socmint match"].read_bytes() == outputs["socmint match -j1"].read_bytes()
        print(f"  matches: socmint match {found['socmint match']:,}, regex {found['alternation regex']:,} "
              "(an alternation reports one term per position, so it can miss a shorter term inside a longer one)")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        print(f"  a bare `python -c pass` takes {time.perf_counter() - started:.2f} s here")


if __name__ == "__main__":
    main()
