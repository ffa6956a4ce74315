"""The place table, distances, boundary levels and the place graph.

The world is a small set of places (districts, county-level cities, city cores) read from a CSV
table shipped as package data (``data/places.csv``) or given by a scenario. Each row is one place;
estimates are labelled in its ``source`` column. A user adds a place by adding a row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from .errors import InputError

#: Technology fields of the knowledge vector: Wujiang's four leading industries (article) and the
#: G60 corridor's target clusters (integrated circuits, AI, biomedicine) plus automotive/NEV (JKT).
FIELDS: tuple[str, ...] = (
    "textiles_fibre",
    "electronic_info",
    "equipment",
    "optoelectronic_comm",
    "integrated_circuits",
    "artificial_intelligence",
    "biomedicine",
    "automotive_nev",
)
MIX_COLUMNS: tuple[str, ...] = tuple(f"mix_{f}" for f in FIELDS)

#: Numeric columns with their meaning and unit; every one may be overridden by a scenario.
NUMERIC_COLUMNS: dict[str, str] = {
    "lat": "latitude, decimal degrees",
    "lon": "longitude, decimal degrees",
    "gdp_billion_yuan": "GDP 2020, billion yuan",
    "population_10k": "resident population, 10,000 persons",
    "innovative_firms": "real count of innovation-active firms (estimate)",
    "research_strength": "public research capacity index, Shanghai core = 100 (estimate)",
    "institutes": "universities, research institutes and service platforms (count, estimate)",
    "researchers_k": "researchers in universities and institutes, thousands (estimate)",
    "wage_wan_month": "monthly cost of one technical employee, 万元 (estimate)",
    **{c: "share of the place's firms in this technology field" for c in MIX_COLUMNS},
}
TEXT_COLUMNS: tuple[str, ...] = ("id", "name_zh", "name_en", "city", "province", "groups", "source")
REQUIRED_COLUMNS: tuple[str, ...] = TEXT_COLUMNS + tuple(NUMERIC_COLUMNS)

#: Boundary levels crossed by a pair of places, lowest to highest.
LEVELS: tuple[str, ...] = ("same-place", "cross-place", "cross-city", "cross-province")


def default_places_path() -> Path:
    """Path of the place table shipped with the package.

    Returns
    -------
    pathlib.Path
        Location of ``data/places.csv``.
    """
    return Path(str(resources.files("coinnovation_sim") / "data" / "places.csv"))


def read_place_table(path: str | Path | None = None) -> pd.DataFrame:
    """Read and validate a place table.

    Parameters
    ----------
    path : str or Path, optional
        CSV file; the shipped table when omitted.

    Returns
    -------
    pandas.DataFrame
        One row per place, columns as in :data:`REQUIRED_COLUMNS` (extra columns kept).

    Raises
    ------
    InputError
        If the file is missing, unreadable or a column or value is invalid.
    """
    path = Path(path) if path is not None else default_places_path()
    src = str(path)
    try:
        table = pd.read_csv(path, dtype={c: str for c in TEXT_COLUMNS}, keep_default_na=False,
                            encoding="utf-8")
    except FileNotFoundError:
        raise InputError(src, "places", "place table not found") from None
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(src, "places", f"expected a UTF-8 CSV place table ({msg})") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(src, missing[0], "required column missing from the place table")
    if len(table) == 0:
        raise InputError(src, "places", "expected at least one place row")
    validate_place_table(table, src)
    return table.reset_index(drop=True)


def validate_place_table(table: pd.DataFrame, src: str) -> None:
    """Check ids, numeric values and industry mixes of a place table.

    Parameters
    ----------
    table : pandas.DataFrame
        The table to check.
    src : str
        Where it came from, for error messages.

    Raises
    ------
    InputError
        On the first invalid value, naming row id and column.
    """
    ids = table["id"].tolist()
    for i, pid in enumerate(ids):
        if not pid or not pid.replace("_", "").isalnum() or not pid.islower():
            raise InputError(src, f"row {i + 1}.id", f"expected a lower-case identifier, got {pid!r}")
    dup = {p for p in ids if ids.count(p) > 1}
    if dup:
        raise InputError(src, f"{sorted(dup)[0]}.id", "place ids must be unique")
    for col in NUMERIC_COLUMNS:
        values = pd.to_numeric(table[col], errors="coerce")
        for pid, raw, val in zip(ids, table[col], values, strict=True):
            check_place_value(src, pid, col, val, raw)
        table[col] = values.astype(float)
    mix = table[list(MIX_COLUMNS)].to_numpy(float)
    for pid, total in zip(ids, mix.sum(axis=1), strict=True):
        if total <= 0:
            raise InputError(src, f"{pid}.mix_*", "industry mix must have a positive total")


def check_place_value(src: str, pid: str, col: str, value: float, raw: object = None) -> None:
    """Check one numeric place value.

    Parameters
    ----------
    src : str
        Source for the error message.
    pid : str
        Place id.
    col : str
        Column name.
    value : float
        Parsed value (NaN when unparsable).
    raw : object, optional
        The value as written, for the message.

    Raises
    ------
    InputError
        If the value is not finite or out of its valid range.
    """
    shown = raw if raw is not None else value
    if value is None or not math.isfinite(float(value)):
        raise InputError(src, f"{pid}.{col}", f"expected a finite number, got {shown!r}")
    if col == "lat" and not -90 <= value <= 90:
        raise InputError(src, f"{pid}.{col}", f"expected a latitude in [-90, 90], got {shown!r}")
    if col == "lon" and not -180 <= value <= 180:
        raise InputError(src, f"{pid}.{col}", f"expected a longitude in [-180, 180], got {shown!r}")
    if col not in ("lat", "lon") and value < 0:
        raise InputError(src, f"{pid}.{col}", f"expected a non-negative number, got {shown!r}")


def apply_overrides(table: pd.DataFrame, overrides: dict[str, dict[str, float]],
                    src: str) -> pd.DataFrame:
    """Return a copy of ``table`` with single values replaced.

    Parameters
    ----------
    table : pandas.DataFrame
        A validated place table.
    overrides : dict
        ``{place_id: {column: value}}``; only numeric columns may be overridden.
    src : str
        Scenario file, for error messages.

    Returns
    -------
    pandas.DataFrame
        The modified copy.
    """
    out = table.copy()
    ids = out["id"].tolist()
    for pid, values in overrides.items():
        if pid not in ids:
            raise InputError(src, f"place_overrides.{pid}", f"unknown place id (known: {', '.join(ids)})")
        row = ids.index(pid)
        for col, value in values.items():
            if col not in NUMERIC_COLUMNS:
                raise InputError(src, f"place_overrides.{pid}.{col}",
                                 "unknown or non-numeric place column (overridable: "
                                 + ", ".join(NUMERIC_COLUMNS) + ")")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InputError(src, f"place_overrides.{pid}.{col}",
                                 f"expected a number, got {value!r}")
            check_place_value(src, f"place_overrides.{pid}", col, float(value))
            out.loc[row, col] = float(value)
    validate_place_table(out, src)
    return out


def haversine_km(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Great-circle distances between all pairs of points.

    Parameters
    ----------
    lat, lon : numpy.ndarray
        Coordinates in decimal degrees, shape (P,).

    Returns
    -------
    numpy.ndarray
        Distances in km, shape (P, P), zero on the diagonal.
    """
    la, lo = np.radians(lat), np.radians(lon)
    dlat = la[:, None] - la[None, :]
    dlon = lo[:, None] - lo[None, :]
    a = np.sin(dlat / 2) ** 2 + np.cos(la[:, None]) * np.cos(la[None, :]) * np.sin(dlon / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


@dataclass
class PlaceData:
    """Arrays describing the places of one run.

    Attributes
    ----------
    table : pandas.DataFrame
        The validated place table (after overrides).
    ids : list of str
        Place ids in table order; index ``p`` of every array refers to ``ids[p]``.
    distance_km : numpy.ndarray
        Great-circle distances, (P, P).
    level : numpy.ndarray
        Boundary level crossed by each pair, index into :data:`LEVELS`, (P, P).
    groups : dict
        Group name to sorted list of place indices.
    """

    table: pd.DataFrame
    ids: list[str] = field(init=False)
    distance_km: np.ndarray = field(init=False)
    level: np.ndarray = field(init=False)
    groups: dict[str, list[int]] = field(init=False)
    _mix: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        t = self.table
        self.ids = t["id"].tolist()
        self.distance_km = haversine_km(t["lat"].to_numpy(float), t["lon"].to_numpy(float))
        city = t["city"].to_numpy(str)
        prov = t["province"].to_numpy(str)
        same_city = city[:, None] == city[None, :]
        same_prov = prov[:, None] == prov[None, :]
        level = np.full((len(t), len(t)), 3, dtype=np.int8)
        level[same_prov] = 2
        level[same_city] = 1
        np.fill_diagonal(level, 0)
        self.level = level
        groups: dict[str, list[int]] = {}
        for p, text in enumerate(t["groups"].tolist()):
            for g in filter(None, (s.strip() for s in str(text).split(";"))):
                groups.setdefault(g, []).append(p)
        self.groups = groups
        m = t[list(MIX_COLUMNS)].to_numpy(float)
        self._mix = m / m.sum(axis=1, keepdims=True)

    @property
    def n(self) -> int:
        """Number of places."""
        return len(self.ids)

    def column(self, name: str) -> np.ndarray:
        """Return a numeric column as a float array in place order."""
        return self.table[name].to_numpy(float)

    @property
    def mix(self) -> np.ndarray:
        """Industry mix, rows normalised to sum to one, shape (P, F)."""
        return self._mix

    def index(self, place_id: str) -> int:
        """Index of a place id."""
        return self.ids.index(place_id)

    def resolve(self, names: list[str]) -> list[int]:
        """Resolve place ids and group names to sorted unique place indices.

        Parameters
        ----------
        names : list of str
            Place ids or group names (``demo_zone``, ``jkt``, ``g60``...).

        Returns
        -------
        list of int
            Place indices.

        Raises
        ------
        KeyError
            If a name is neither a place id nor a group.
        """
        out: set[int] = set()
        for name in names:
            if name in self.groups:
                out.update(self.groups[name])
            elif name in self.ids:
                out.add(self.ids.index(name))
            else:
                raise KeyError(name)
        return sorted(out)


def build_place_graph(places: PlaceData) -> nx.Graph:
    """Build the complete graph of places.

    Parameters
    ----------
    places : PlaceData
        The places of the run.

    Returns
    -------
    networkx.Graph
        Nodes are place ids with every column of the place table as attributes (``lat``,
        ``lon`` among them); edges carry ``distance_km`` and ``level`` (the boundary crossed:
        ``cross-place``, ``cross-city`` or ``cross-province``). GraphML-exportable.
    """
    g = nx.Graph()
    for row in places.table.to_dict(orient="records"):
        attrs = {k: (float(v) if isinstance(v, (int, float, np.number)) else str(v))
                 for k, v in row.items() if k != "id"}
        g.add_node(row["id"], **attrs)
    for a in range(places.n):
        for b in range(a + 1, places.n):
            g.add_edge(places.ids[a], places.ids[b],
                       distance_km=float(places.distance_km[a, b]),
                       level=LEVELS[int(places.level[a, b])])
    return g
