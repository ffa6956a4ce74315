"""Policy mechanisms, one module each, switched by ``mechanisms.<name>.enabled``.

See :mod:`coinnovation_sim.mechanisms.base` for the levers a mechanism may act on. Each module
defines its scenario section (``Config``) and, once implemented, its mechanism class, which it
lists in :data:`REGISTRY` here.
"""

from __future__ import annotations

from . import coordination, enclaves, tech_market, vouchers
from .base import Mechanism, MechanismConfig

#: Scenario section schema of every mechanism, by scenario key.
CONFIGS: dict[str, type[MechanismConfig]] = {
    "coordination": coordination.Config,
    "enclaves": enclaves.Config,
    "vouchers": vouchers.Config,
    "tech_market": tech_market.Config,
}

#: Implemented mechanisms by scenario key.
REGISTRY: dict[str, type[Mechanism]] = {
    name: module.MECHANISM
    for name, module in (("coordination", coordination), ("enclaves", enclaves),
                         ("vouchers", vouchers), ("tech_market", tech_market))
    if getattr(module, "MECHANISM", None) is not None
}

__all__ = ["CONFIGS", "REGISTRY", "Mechanism", "MechanismConfig"]
