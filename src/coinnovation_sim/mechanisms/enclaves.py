"""Enclave parks (飞地): behaviour to be implemented (issue 3)."""

from __future__ import annotations

from pydantic import Field

from .base import MechanismConfig, StrictModel


class Park(StrictModel):
    """One enclave park: firms of ``home`` run a unit inside ``host``."""

    home: str
    host: str
    capacity: int = Field(20, ge=0, le=1_000_000, description="real firms the park can hold")


class Config(MechanismConfig):
    """Scenario section ``mechanisms.enclaves``."""

    parks: list[Park] = Field(default_factory=list)


#: Not implemented yet: enabling this mechanism is refused at validation.
MECHANISM = None
