"""Scenario files: schema, loading, ``extends`` merging and one-line validation errors.

A scenario is a YAML file (``yaml.safe_load`` only) whose top level is the contract of the
architecture sketch: ``name`` (required), ``description``, ``extends``, ``seed``, ``steps``,
``focus``, ``population``, ``places``, ``place_overrides``, ``mechanisms``, ``parameters``.
Unknown keys anywhere are errors.
"""

from __future__ import annotations

import copy
import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from . import parameters as P
from .errors import InputError
from .mechanisms import REGISTRY
from .mechanisms.coordination import Config as CoordinationConfig
from .mechanisms.enclaves import Config as EnclavesConfig
from .mechanisms.tech_market import Config as TechMarketConfig
from .mechanisms.vouchers import Config as VouchersConfig
from .places import PlaceData, apply_overrides, read_place_table

MAX_FILE_BYTES = 1_000_000
MAX_ALIASES = 200
MAX_NODES = 100_000
MAX_STEPS = 1200


class PlausibilityWarning(UserWarning):
    """A valid value lies outside its documented plausible range."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Population(_Strict):
    """Agent counts (not real counts: each agent stands for ``w`` real entities)."""

    firms: int = Field(20_000, ge=1, le=5_000_000, description="firm agents over all places")
    institutes: int = Field(300, ge=0, le=100_000,
                            description="research-institute agents, allocated over places by the "
                                        "place table's institutes column")


class Mechanisms(_Strict):
    """The ``mechanisms`` section: one entry per mechanism, each switched by ``enabled``."""

    coordination: CoordinationConfig = Field(default_factory=CoordinationConfig)
    enclaves: EnclavesConfig = Field(default_factory=EnclavesConfig)
    vouchers: VouchersConfig = Field(default_factory=VouchersConfig)
    tech_market: TechMarketConfig = Field(default_factory=TechMarketConfig)


class Scenario(_Strict):
    """A validated, fully resolved scenario (``extends`` already merged)."""

    name: str = Field(min_length=1, description="scenario name (required, unique in a comparison)")
    description: str = Field("", description="the question this scenario answers")
    extends: str | None = Field(None, description="parent scenario file, relative to this one; "
                                                  "deep-merged under this file's keys")
    seed: int = Field(20200101, ge=0, le=2**63 - 1, description="default run seed")
    steps: int = Field(120, ge=0, le=MAX_STEPS, description="months; step 0 is 2020-01")
    focus: str = Field("wujiang", description="place id whose integration is measured")
    population: Population = Field(default_factory=Population, description="agent counts")
    places: str | None = Field(None, description="CSV place table replacing the shipped one, "
                                                 "relative to this file")
    place_overrides: dict[str, dict[str, float | int]] = Field(
        default_factory=dict, description="single place values: {place_id: {column: value}}")
    mechanisms: Mechanisms = Field(default_factory=Mechanisms,
                                   description="policy mechanisms, each switched by enabled")
    parameters: dict[str, float | int] = Field(
        default_factory=dict, description="behavioural parameters (see docs/parameters.md)")
    _source: str = PrivateAttr("<scenario>")
    _base_dir: str = PrivateAttr(".")

    @property
    def source(self) -> str:
        """Where the scenario came from (file path, or ``<scenario>`` for a mapping)."""
        return self._source

    @property
    def base_dir(self) -> str:
        """Directory against which relative paths (``places``) resolve."""
        return self._base_dir

    @field_validator("name")
    @classmethod
    def _name_is_text(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("expected a non-empty name")
        return v

    def params(self) -> dict[str, float]:
        """All behavioural parameters: defaults updated by this scenario's values."""
        out = P.defaults()
        out.update(self.parameters)
        return out

    def places_path(self) -> Path | None:
        """Absolute path of the scenario's place table, if it replaces the shipped one."""
        if self.places is None:
            return None
        p = Path(self.places)
        return p if p.is_absolute() else (Path(self.base_dir) / p)

    def place_data(self) -> PlaceData:
        """Load the place table, apply overrides, and return the run's :class:`PlaceData`."""
        table = read_place_table(self.places_path())
        if self.place_overrides:
            table = apply_overrides(table, self.place_overrides, self.source)
        return PlaceData(table)

    def resolved(self) -> dict[str, Any]:
        """The scenario as resolved, as JSON-compatible data (what a manifest records)."""
        data = self.model_dump(mode="json")
        data["parameters"] = self.params()
        return data

    def digest(self) -> str:
        """SHA-256 of the canonical JSON of :meth:`resolved`."""
        text = json.dumps(self.resolved(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Merge ``over`` into a copy of ``base``: dicts merge recursively, other values replace.

    Parameters
    ----------
    base, over : dict
        Parent and child mappings.

    Returns
    -------
    dict
        The merged mapping.
    """
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def expanded_size(node: yaml.Node | None) -> int:
    """Number of values a composed YAML document has once its aliases are expanded.

    Aliased nodes are shared in the composed graph, so the count is computed with memoisation
    and never expands anything (an alias bomb is measured, not built).

    Parameters
    ----------
    node : yaml.Node or None
        Root of ``yaml.compose``'s result.

    Returns
    -------
    int
        The expanded value count.
    """
    memo: dict[int, int] = {}

    def size(n: yaml.Node) -> int:
        key = id(n)
        if key in memo:
            return memo[key]
        memo[key] = 1  # guards recursive anchors
        if isinstance(n, yaml.SequenceNode):
            total = 1 + sum(size(c) for c in n.value)
        elif isinstance(n, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in n.value)
        else:
            total = 1
        memo[key] = total
        return total

    return 0 if node is None else size(node)


def read_yaml(path: Path) -> dict[str, Any]:
    """Read one YAML mapping safely.

    Parameters
    ----------
    path : Path
        The file.

    Returns
    -------
    dict
        The mapping.

    Raises
    ------
    InputError
        For a missing, oversized, non-UTF-8, empty, malformed or non-mapping file, or one with
        more YAML aliases than any scenario needs (alias bombs).
    """
    src = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(src, "", "file not found") from None
    except IsADirectoryError:
        raise InputError(src, "", "expected a YAML file, got a directory") from None
    except OSError as exc:
        raise InputError(src, "", f"cannot read file ({exc.strerror})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(src, "", f"file larger than {MAX_FILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(src, "", "expected UTF-8 text") from None
    try:
        aliases = sum(isinstance(t, yaml.AliasToken) for t in yaml.scan(text))
        if aliases > MAX_ALIASES:
            raise InputError(src, "", f"too many YAML aliases ({aliases} > {MAX_ALIASES})")
        if aliases and expanded_size(yaml.compose(text, Loader=yaml.SafeLoader)) > MAX_NODES:
            raise InputError(src, "", f"YAML aliases expand to more than {MAX_NODES} values")
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "malformed"
        raise InputError(src, where, f"invalid YAML: {problem}") from None
    if data is None:
        raise InputError(src, "", "empty file: expected a scenario mapping with at least 'name'")
    if not isinstance(data, dict):
        raise InputError(src, "", f"expected a mapping at the top level, got {type(data).__name__}")
    return data


def load_model_file[M: BaseModel](path: str | Path, model: type[M]) -> M:
    """Read a YAML file and validate it with a pydantic model, with one-line errors.

    Parameters
    ----------
    path : str or Path
        The file.
    model : type
        The pydantic model of the file's top level (unknown keys rejected by the model).

    Returns
    -------
    BaseModel
        The validated instance.

    Raises
    ------
    InputError
        For an unreadable or malformed file, or the first invalid key (its dotted path named).
    """
    data = read_yaml(Path(path))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        key, msg = _format_validation(exc, data)
        raise InputError(str(path), key, msg) from None


def _extends_path(src: str, base: Path, parent: object) -> Path:
    """The existing file that ``extends: parent`` in ``src`` names, relative to ``base``.

    Raises
    ------
    InputError
        When ``parent`` is not a usable path (not a string, empty, a NUL byte, too long for the
        file system) or names no existing file.
    """
    if not isinstance(parent, str) or not parent.strip() or "\0" in parent:
        raise InputError(src, "extends", f"expected a file path, got {parent!r}")
    try:
        parent_path = (base / parent).resolve()
        found = parent_path.is_file()
    except (OSError, ValueError) as exc:  # e.g. a name too long for the file system
        raise InputError(src, "extends", f"not a usable file path: {exc}") from None
    if not found:
        raise InputError(src, "extends", f"file {parent} not found")
    return parent_path


def _resolve_extends(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    data = read_yaml(path)
    parent = data.get("extends")
    if parent is None:
        return data
    parent_path = _extends_path(str(path), path.parent, parent)
    if parent_path in chain or parent_path == path.resolve():
        raise InputError(str(path), "extends", f"cycle: {parent} extends back to this file")
    base = _resolve_extends(parent_path, (*chain, path.resolve()))
    base.pop("name", None)
    base.pop("description", None)
    return deep_merge(base, data)


def _key_path(loc: tuple, data: object, missing: bool) -> str:
    """Dotted key path of an error location, without pydantic's type tags (``float``, ...)."""
    path: list[str] = []
    cur = data
    for i, part in enumerate(loc):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            cur = cur[part]
        elif not (missing and i == len(loc) - 1):
            continue  # a union member's type tag, not a key the user wrote
        path.append(str(part))
    return ".".join(path) if path else ".".join(str(p) for p in loc)


def _format_validation(exc: ValidationError, data: object) -> tuple[str, str]:
    err = exc.errors()[0]
    key = _key_path(tuple(err["loc"]), data, err["type"] == "missing")
    if err["type"] == "extra_forbidden":
        return key, "unknown key"
    if err["type"] == "missing":
        return key, "required key missing"
    msg = err["msg"].removeprefix("Value error, ")
    if "input" in err and err["type"] not in ("model_type",):
        msg += f", got {err['input']!r}"
    return key, msg


def _check_semantics(sc: Scenario) -> None:
    src = sc.source
    for name, value in sc.parameters.items():
        spec = P.PARAMS_BY_NAME.get(name)
        if spec is None:
            raise InputError(src, f"parameters.{name}", "unknown parameter (see docs/parameters.md)")
        problem = P.check_value(spec, value)
        if problem:
            raise InputError(src, f"parameters.{name}", problem)
        if not P.is_plausible(spec, value):
            lo, hi = spec.plausible
            warnings.warn(f"{src}: parameters.{name}: {value} is outside the plausible range "
                          f"[{lo:g}, {hi:g}] {spec.unit}; running anyway",
                          PlausibilityWarning, stacklevel=3)
    places = sc.place_data()
    if sc.focus not in places.ids:
        raise InputError(src, "focus", f"unknown place id {sc.focus!r}")
    mech = sc.mechanisms
    for mname in type(mech).model_fields:
        m = getattr(mech, mname)
        if m.enabled and mname not in REGISTRY:
            raise InputError(src, f"mechanisms.{mname}.enabled",
                             f"the {mname} mechanism is not implemented in this version yet; "
                             "expected enabled: false")
        if m.end is not None and m.end < m.start:
            raise InputError(src, f"mechanisms.{mname}.end", f"expected end >= start ({m.start})")
        for key in ("members", "issuers", "providers"):
            if not (m.enabled or key in m.model_fields_set):
                continue  # a default of a switched-off mechanism may name groups a table lacks
            names = getattr(m, key, None) or []
            for i, n in enumerate(names):
                if n not in places.ids and n not in places.groups:
                    raise InputError(src, f"mechanisms.{mname}.{key}.{i}",
                                     f"unknown place id or group {n!r}")
    for i, body in enumerate(mech.coordination.bodies):
        for j, n in enumerate(body.members):
            if n not in places.ids and n not in places.groups:
                raise InputError(src, f"mechanisms.coordination.bodies.{i}.members.{j}",
                                 f"unknown place id or group {n!r}")
    for i, park in enumerate(mech.enclaves.parks):
        for key in ("home", "host"):
            if getattr(park, key) not in places.ids:
                raise InputError(src, f"mechanisms.enclaves.parks.{i}.{key}",
                                 f"unknown place id {getattr(park, key)!r}")
        if park.home == park.host:
            raise InputError(src, f"mechanisms.enclaves.parks.{i}", "a park's home cannot be its host")


def load_scenario(scenario: str | Path | dict[str, Any] | Scenario,
                  base_dir: str | Path | None = None) -> Scenario:
    """Load and validate a scenario.

    Parameters
    ----------
    scenario : str, Path, dict or Scenario
        A YAML file path, a mapping with the scenario's keys, or an already loaded scenario.
        A bare name such as ``"baseline"`` finds a shipped scenario.
    base_dir : str or Path, optional
        Directory for relative paths in a mapping (``extends``, ``places``); the current
        directory by default.

    Returns
    -------
    Scenario
        The validated scenario with ``extends`` merged.

    Raises
    ------
    InputError
        With a one-line message naming the file, the key path and what was expected.
    """
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, dict):
        src = "<scenario>"
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        data = copy.deepcopy(scenario)
        if data.get("extends") is not None:
            merged = _resolve_extends(_extends_path(src, base, data["extends"]), ())
            merged.pop("name", None)
            merged.pop("description", None)
            data = deep_merge(merged, data)
    else:
        path = Path(scenario)
        if not path.exists() and not path.suffix:
            shipped = shipped_scenario_path(str(scenario))
            path = shipped if shipped is not None else path
        src = str(scenario) if path == Path(scenario) else str(path)
        base = path.parent
        data = _resolve_extends(path, ())
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as exc:
        key, msg = _format_validation(exc, data)
        raise InputError(src, key, msg) from None
    sc._source = src
    sc._base_dir = str(base)
    if sc.places is not None and not sc.places_path().exists():
        raise InputError(src, "places", f"place table {sc.places} not found")
    _check_semantics(sc)
    return sc


def scenarios_dir() -> Path | None:
    """The shipped ``scenarios/`` folder: inside an installed wheel, or in a source checkout."""
    here = Path(__file__).resolve()
    packaged = here.parent / "scenarios"
    if (packaged / "baseline.yaml").exists():
        return packaged
    for parent in here.parents:
        cand = parent / "scenarios"
        if (cand / "baseline.yaml").exists():
            return cand
    return None


def shipped_scenario_path(name: str) -> Path | None:
    """Path of a shipped scenario by name (``baseline`` → ``scenarios/baseline.yaml``)."""
    d = scenarios_dir()
    if d is None:
        return None
    cand = d / f"{name}.yaml"
    return cand if cand.exists() else None
