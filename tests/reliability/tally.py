"""The suite's counters: what was tried and survived, written to last_run.json for the README."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SOAK = os.environ.get("SOCMINT_SOAK", "") not in ("", "0")  # read at import: the test fixtures clear SOCMINT_*
OUTPUT = Path(__file__).with_name("last_run.json")


def scale(reduced: int, full: int) -> int:
    """A loop size: `reduced` in `make test`, `full` in `make soak`."""
    return full if SOAK else reduced


class Tally:
    """Named counters per area, merged across tests and written once at the end of the session."""

    def __init__(self) -> None:
        self.areas: dict[str, dict[str, Any]] = {}

    def add(self, area: str, **counts: int) -> None:
        """Add to integer counters of an area."""
        section = self.areas.setdefault(area, {})
        for name, value in counts.items():
            section[name] = section.get(name, 0) + value

    def put(self, area: str, **values: Any) -> None:
        """Set values (lists, maxima) of an area."""
        self.areas.setdefault(area, {}).update(values)

    def headline(self) -> dict[str, Any]:
        """The numbers the README reports."""
        faults = self.areas.get("source_faults", {})
        chat = self.areas.get("chat_faults", {})
        crash = self.areas.get("crash_safety", {})
        hostile = self.areas.get("hostile_input", {})
        probes = self.areas.get("security_probes", {})
        return {
            "requests_with_injected_faults_survived": faults.get("faulty_requests", 0)
            + chat.get("faulty_requests", 0),
            "alerts_lost": faults.get("lost", 0) + chat.get("lost", 0) + crash.get("lost", 0),
            "duplicate_alerts_without_a_crash": faults.get("duplicates", 0) + chat.get("doubled", 0),
            "crashes": crash.get("crashes", 0),
            "max_duplicates_per_crash": crash.get("max_duplicates_per_crash", 0),
            "commands_during_crashes": crash.get("commands", 0),
            "commands_applied_or_audited_other_than_once": crash.get("commands_applied_twice", 0)
            + crash.get("commands_not_applied", 0) + crash.get("commands_audited_wrongly", 0),
            "command_updates_redelivered": crash.get("updates_redelivered", 0),
            "command_replies_doubled": crash.get("command_replies_doubled", 0),
            "command_replies_lost_to_a_kill": crash.get("command_replies_lost_to_a_kill", 0),
            "hostile_inputs_tried": sum(v for k, v in hostile.items() if k.endswith("_tried")),
            "hostile_unhandled_errors": hostile.get("unhandled", 0),
            "security_probes_refused": probes.get("refused", 0),
        }

    def report(self, mode: str, outcome: Mapping[str, Any]) -> dict[str, Any]:
        return {"mode": mode, **outcome, "headline": self.headline(), "areas": self.areas}

    def write(self, mode: str, outcome: Mapping[str, Any]) -> dict[str, Any]:
        data = self.report(mode, outcome)
        OUTPUT.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return data


TALLY = Tally()
