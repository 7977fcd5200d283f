"""Settings for the monitoring engine: alert delivery, grouping, polling and signal alerts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MonitorSettings(BaseModel):
    """How alerts are grouped and delivered, and how often sources are polled at most."""

    model_config = ConfigDict(extra="forbid")

    group_threshold: int = Field(default=5, ge=1, description="alerts per watch in the window before grouping")
    group_window_s: float = Field(default=600, gt=0, description="the window for group_threshold")
    group_hold_s: float = Field(default=120, ge=0, description="while grouping: one summary per watch this often")
    alert_max_age_s: float = Field(default=172800, gt=0, description="older posts are matched but not alerted")
    retry_base_s: float = Field(default=2, gt=0, description="first retry delay after a failed delivery")
    retry_max_s: float = Field(default=600, gt=0, description="longest retry delay")
    max_attempts: int = Field(default=20, ge=1, description="give up on a message after this many failures")
    chat_interval_s: float = Field(default=1.0, ge=0, description="at least this long between two alerts to one chat")
    min_poll_s: float = Field(default=60, ge=1, description="no source is polled more often than this")
    poll_jitter_s: float = Field(default=15, ge=0, description="random delay added to each poll")
    ingest_batch: int = Field(default=500, ge=1, description="posts stored per transaction")
    signals_every_s: float = Field(default=900, ge=60, description="how often watches are checked for signals")
    signals_window_s: float = Field(
        default=86400, ge=3600, le=30 * 86400,
        description="spikes are counted over this trailing window against the 7 windows before it",
    )
