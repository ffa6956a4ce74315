"""Innovation vouchers (创新券): behaviour to be implemented (issue 3)."""

from __future__ import annotations

from pydantic import Field

from .base import MechanismConfig


class Config(MechanismConfig):
    """Scenario section ``mechanisms.vouchers``."""

    issuers: list[str] = Field(default_factory=lambda: ["demo_zone"])
    providers: list[str] | None = None
    annual_budget_wan: float = Field(3450.0, ge=0, allow_inf_nan=False)
    face_value_wan: float = Field(50.0, ge=0, allow_inf_nan=False)
    copay_share: float = Field(0.5, ge=0, le=1, allow_inf_nan=False)
    cross_region: bool = True


#: Not implemented yet: enabling this mechanism is refused at validation.
MECHANISM = None
