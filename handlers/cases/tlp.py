"""The Traffic Light Protocol 2.0 (FIRST): how far a report may be shared, as labels, colours and STIX markings.

Labels, colours and meanings follow the FIRST TLP 2.0 standard (labels in capitals, coloured text on
black). The STIX 2.1 marking definitions are the ones OASIS publishes for TLP 2.0 (cti-stix-common-objects,
extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d): fixed ids and a fixed `created`, so every
consumer recognises them; a bundle carries the definition it refers to.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

TLP_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP_CREATED = "2022-10-01T00:00:00.000Z"


class TlpError(ValueError):
    """Text that is not a TLP level; the message lists the levels."""


class Tlp(StrEnum):
    """A TLP 2.0 level."""

    CLEAR = "clear"
    GREEN = "green"
    AMBER = "amber"
    AMBER_STRICT = "amber+strict"
    RED = "red"

    @property
    def label(self) -> str:
        """`TLP:AMBER+STRICT` — as written on reports."""
        return f"TLP:{self.value.upper()}"

    @property
    def colour(self) -> str:
        """The label's text colour (on black), from the standard."""
        return _COLOURS[self]

    @property
    def meaning(self) -> str:
        """Who may see it, in one sentence."""
        return _MEANINGS[self]

    @property
    def stix_id(self) -> str:
        return _STIX_IDS[self]

    def marking_definition(self) -> dict[str, Any]:
        """The published STIX 2.1 marking-definition object for this level."""
        return {
            "type": "marking-definition", "spec_version": "2.1", "id": self.stix_id, "created": TLP_CREATED,
            "name": self.label,
            "extensions": {TLP_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": self.value}},
        }


_COLOURS = {Tlp.CLEAR: "#FFFFFF", Tlp.GREEN: "#33FF00", Tlp.AMBER: "#FFC000", Tlp.AMBER_STRICT: "#FFC000",
            Tlp.RED: "#FF2B2B"}
_MEANINGS = {
    Tlp.CLEAR: "Disclosure is not limited.",
    Tlp.GREEN: "Recipients may share it within their community, but not publicly.",
    Tlp.AMBER: "Recipients may share it only within their organisation and with its clients, on a need-to-know "
               "basis.",
    Tlp.AMBER_STRICT: "Recipients may share it only within their own organisation, on a need-to-know basis.",
    Tlp.RED: "For the named recipients only: no further disclosure.",
}
_STIX_IDS = {
    Tlp.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    Tlp.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    Tlp.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    Tlp.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    Tlp.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
LEVELS = ", ".join(t.value for t in Tlp)


def parse_tlp(text: str) -> Tlp:
    """`amber`, `TLP:AMBER`, `Amber+Strict`, `white` (TLP 1.0's name for clear) → the level."""
    word = re.sub(r"[\s_+]+", "+", text.strip().lower().removeprefix("tlp:").strip())
    if word == "white":
        return Tlp.CLEAR
    try:
        return Tlp(word)
    except ValueError:
        raise TlpError(f"{text.strip()!r} is not a TLP 2.0 level; use one of {LEVELS}.") from None


def mark(objects: list[dict[str, Any]], level: Tlp) -> list[dict[str, Any]]:
    """STIX objects (as JSON data) each marked with `level`, its marking definition first."""
    marked = [{**o, "object_marking_refs": [level.stix_id]} for o in objects if o.get("type") != "marking-definition"]
    return [level.marking_definition(), *marked]
