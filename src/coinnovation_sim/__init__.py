"""coinnovation-sim: agent-based simulation of regional innovation factor flows in the YRD.

Cities, firms and research institutes exchange talent, technology and capital over a network of
Yangtze River Delta places; scenario files switch policy mechanisms on and off, and the model
measures how well each integrates Wujiang District into the regional innovation network.

>>> from coinnovation_sim import load_scenario, run          # doctest: +SKIP
>>> result = run(load_scenario("scenarios/baseline.yaml"))    # doctest: +SKIP
"""

from __future__ import annotations

from importlib import metadata

from .errors import InputError
from .model import CoinnovationModel
from .results import RunResult
from .runner import run
from .scenario import Scenario, load_scenario

try:
    __version__ = metadata.version("coinnovation-sim")
except metadata.PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
    __version__ = "0.0.0"

__all__ = [
    "CoinnovationModel",
    "InputError",
    "RunResult",
    "Scenario",
    "__version__",
    "load_scenario",
    "run",
]
