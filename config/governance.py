"""Settings for governance: rate limits on expensive commands and how long each kind of data is kept."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class RateLimitSettings(BaseModel):
    """How many expensive commands (sweeps, lookups, imports, analyses) may run per window."""

    model_config = ConfigDict(extra="forbid")

    window_s: float = Field(default=60, gt=0, description="the sliding window the limits count over")
    per_user: int = Field(default=12, ge=0, description="expensive commands per user per window; 0 = no limit")
    per_chat: int = Field(default=40, ge=0, description="expensive commands per chat per window; 0 = no limit")
    exempt_admins: bool = Field(default=True, description="admins and owners are not limited")
    stranger_refusals: int = Field(default=1, ge=0, description="refusals shown to one stranger per stranger "
                                   "window (the rest are silenced and counted); 0 = no limit")
    stranger_refusals_total: int = Field(default=30, ge=0, description="refusals shown to all strangers together "
                                         "per stranger window; 0 = no limit")
    stranger_window_s: float = Field(default=60, gt=0, description="the window the stranger refusals count over")


class RetentionSettings(BaseModel):
    """Days each kind of data is kept before the daily purge deletes it; 0 keeps it forever."""

    model_config = ConfigDict(extra="forbid")

    posts_days: int = Field(default=180, ge=0, description="collected and imported posts (with their matches, IOCs)")
    lookups_days: int = Field(default=30, ge=0, description="cached lookup answers (expired ones always go)")
    audit_days: int = Field(default=365, ge=0, description="the audit log")
    outbox_days: int = Field(default=30, ge=0, description="delivered or failed alerts (pending ones are kept)")
    buttons_days: int = Field(default=30, ge=0, description="button tokens (older buttons say 'expired')")
    purge_at: str = Field(default="03:30", description="daily purge time, HH:MM UTC")

    @field_validator("purge_at")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        if not _HHMM.match(v):
            raise ValueError("use HH:MM, 24-hour, e.g. 03:30")
        return v


class GovernanceSettings(BaseModel):
    """Rate limits, retention and how much one person may watch."""

    model_config = ConfigDict(extra="forbid")

    rate_limits: RateLimitSettings = Field(default_factory=RateLimitSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    max_watch_terms_per_user: int = Field(default=500, ge=0, description="query terms one person's watches may "
                                          "hold in all chats together (each watch is also matched against every "
                                          "post); 0 = no limit")
