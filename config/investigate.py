"""Settings for /investigate: where a team's own playbooks live, and the hard ceilings every playbook obeys."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class InvestigateSettings(BaseModel):
    """Investigation workflows (playbooks)."""

    model_config = ConfigDict(extra="forbid")

    playbooks_dir: Path | None = Field(
        default=None,
        description="a folder of the team's playbook *.toml files; one named like a shipped one replaces it",
    )
    max_depth: int = Field(default=3, ge=0, le=5, description="no playbook pivots further than this")
    max_requests: int = Field(default=1000, ge=1, description="no playbook spends more provider requests than this")
