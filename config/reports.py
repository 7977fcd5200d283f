"""Settings for case reports: who they come from, the time zone their dates are read in, the default TLP."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

TlpLevel = Literal["clear", "green", "amber", "amber+strict", "red"]


class ReportsSettings(BaseModel):
    """How exported case reports (HTML, PDF, Markdown) present themselves."""

    model_config = ConfigDict(extra="forbid")

    author: str = Field(default="", max_length=128,
                        description="named as the report's author (empty: the analyst who opened the case)")
    organisation: str = Field(default="", max_length=128, description="the team or company the report is from")
    timezone: str | None = Field(default=None,
                                 description="zone report dates are shown in; unset: the top-level timezone")
    default_tlp: TlpLevel = Field(default="amber",
                                  description="TLP 2.0 marking of cases that have none set (/case tlp)")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        from zoneinfo import ZoneInfo

        if not v:
            return None
        try:
            ZoneInfo(v)
        except Exception:
            raise ValueError(f"unknown time zone {v!r} (e.g. Europe/Berlin)") from None
        return v

    @field_validator("default_tlp", mode="before")
    @classmethod
    def _tlp(cls, v: object) -> object:
        return v.strip().lower().removeprefix("tlp:") if isinstance(v, str) else v
