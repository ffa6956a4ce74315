"""Joint coordination meetings (联席会议): behaviour to be implemented (issue 3)."""

from __future__ import annotations

from pydantic import Field

from .base import MAX_STEPS, MechanismConfig


class Config(MechanismConfig):
    """Scenario section ``mechanisms.coordination``."""

    members: list[str] = Field(default_factory=lambda: ["g60"],
                               description="place ids or group names attending the meetings")
    interval: int = Field(6, ge=1, le=MAX_STEPS, description="months between meetings")


#: Not implemented yet: enabling this mechanism is refused at validation.
MECHANISM = None
