"""Cross-region technology trading platform: behaviour to be implemented (issue 3)."""

from __future__ import annotations

from pydantic import Field

from .base import MechanismConfig


class Config(MechanismConfig):
    """Scenario section ``mechanisms.tech_market``."""

    members: list[str] = Field(default_factory=lambda: ["g60"])
    fee_share: float = Field(0.03, ge=0, le=1, allow_inf_nan=False)


#: Not implemented yet: enabling this mechanism is refused at validation.
MECHANISM = None
