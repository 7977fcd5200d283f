"""`python -m bench [NAME ...]`: run the benchmarks (all by default, each in its full run, never a quick
mode), each comparing against a baseline measured in the same run. Results are printed; README.md records
the latest numbers and the machine they were measured on."""

from __future__ import annotations

import runpy
import sys

BENCHMARKS = {
    "telegram": "bench.telegram_roundtrip",
    "matcher": "bench.matcher",
    "retrohunt": "bench.retrohunt",
    "pipeline": "bench.pipeline",
    "engines": "bench.engines",
    "jetstream": "bench.jetstream",
    "import": "bench.import_jsonl",
    "sweep": "bench.sweep",
    "analysis": "bench.analysis",
    "stored_search": "bench.stored_search",
}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    for name in names:
        print(f"\n=== {name} ({BENCHMARKS[name]}) ===", flush=True)
        sys.argv = [BENCHMARKS[name]]  # the full runs, as the README quotes them
        try:
            runpy.run_module(BENCHMARKS[name], run_name="__main__")
        except SystemExit as exc:
            if exc.code not in (None, 0):
                print(f"{name}: exited with {exc.code}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
