"""Run results: tables built once at the end of a run, and the run directory on disk.

A run directory holds ``manifest.json`` (scenario as resolved, its hash, seed, package and
dependency versions, timings), ``metrics.parquet`` (per step, indexed by ``step``),
``metrics_long.parquet``, ``flows.parquet``, ``ledger.parquet`` (sources and sinks),
``costs.parquet`` (public spending by paying government), ``collaborations.parquet`` (joint R&D
deals between firm agents) and ``place_graph.graphml``. It is
written to a temporary sibling directory and renamed into place, so a failed write never leaves
a directory that looks complete.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import InputError
from .metrics import long_keys

if TYPE_CHECKING:
    from .model import CoinnovationModel
    from .scenario import Scenario

DEPENDENCIES = ("mesa", "numpy", "networkx", "pandas", "pyarrow", "pydantic", "pyyaml")


def month_label(step: int) -> str:
    """Calendar month of a step (step 0 is 2020-01)."""
    return f"{2020 + step // 12:04d}-{step % 12 + 1:02d}"


def versions() -> dict[str, str]:
    """Versions of Python, this package and its main dependencies."""
    out = {"python": platform.python_version()}
    for name in ("coinnovation-sim", *DEPENDENCIES):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


def metrics_frame(model: CoinnovationModel) -> pd.DataFrame:
    """Per-step metrics indexed by ``step`` with a ``month`` column."""
    df = pd.DataFrame(model.metric_rows)
    df.index = pd.RangeIndex(len(df), name="step")
    df.insert(0, "month", [month_label(int(s)) for s in df.index])
    return df


def long_frame(model: CoinnovationModel) -> pd.DataFrame:
    """Long metrics table ``step, place, metric, factor, level, value``."""
    cols = ["step", "place", "metric", "factor", "level", "value"]
    if not model.long_values:
        return pd.DataFrame([], columns=cols).astype({"step": np.int64, "value": float})
    # column by column from the per-step value arrays: the frame of the row tuples
    # ``model.long_rows`` (same dtypes and values), without building them
    keys = long_keys(model)
    steps = len(model.long_values)
    data: dict[str, object] = {"step": np.repeat(np.arange(steps, dtype=np.int64), len(keys))}
    for name, column in zip(cols[1:5], zip(*keys, strict=True), strict=True):
        data[name] = list(column) * steps
    data["value"] = np.concatenate(model.long_values)
    return pd.DataFrame(data).astype({"step": np.int64, "value": float})


def costs_frame(model: CoinnovationModel) -> pd.DataFrame:
    """Public spending ``step, government, amount_wan`` (non-zero entries)."""
    steps = len(model.metric_rows)
    st, p = np.nonzero(model.policy_cost[:steps])
    return pd.DataFrame({"step": st.astype(np.int64),
                         "government": np.array(model.places.ids, dtype=object)[p],
                         "amount_wan": model.policy_cost[:steps][st, p]})


def collaborations_frame(model: CoinnovationModel) -> pd.DataFrame:
    """Joint R&D deals between firm agents: ``step, firm, partner, firm_place, partner_place``.

    One row per deal of a searching firm agent with a partner firm agent (ids are
    ``FirmState.firm_id``, stable over a firm's life; places are home places at the time of the
    deal). This is the firm-level collaboration network: the degree of a firm is the number of
    distinct partners it has in these rows, as searcher or as partner.
    """
    cols = ["step", "firm", "partner", "firm_place", "partner_place"]
    edges = (np.concatenate(model.collab_edges) if model.collab_edges
             else np.zeros((0, len(cols)), np.int64))
    ids = np.array(model.places.ids, dtype=object)
    # explicit string columns: an empty table keeps the same Parquet schema as a full one
    return pd.DataFrame({"step": edges[:, 0], "firm": edges[:, 1], "partner": edges[:, 2],
                         "firm_place": pd.Series(ids[edges[:, 3]], dtype="str"),
                         "partner_place": pd.Series(ids[edges[:, 4]], dtype="str")})


def write_parquet(df: pd.DataFrame, path: Path, index: bool = False) -> None:
    """Write a DataFrame as Parquet (deterministic bytes for equal frames)."""
    pq.write_table(pa.Table.from_pandas(df, preserve_index=index), path)


@dataclass
class RunResult:
    """Outcome of one run.

    Attributes
    ----------
    scenario : Scenario
        The scenario as resolved.
    seed : int
        The run seed.
    model : CoinnovationModel
        The model after the run (agents and arrays can be inspected).
    metrics : pandas.DataFrame
        One row per step (index ``step``), columns as in ``docs/metrics.md``.
    metrics_long : pandas.DataFrame
        Long table: shares by boundary level, integration index and PageRank of every place.
    flows : pandas.DataFrame
        ``step, factor, channel, origin, destination, amount, unit``.
    ledger : pandas.DataFrame
        Sources and sinks of talent and capital: ``step, factor, account, place, amount``.
    costs : pandas.DataFrame
        Public spending by paying government.
    collaborations : pandas.DataFrame
        Joint R&D deals between firm agents (the firm collaboration network,
        :func:`collaborations_frame`).
    timings : dict
        Seconds spent building and running the model.
    """

    scenario: Scenario
    seed: int
    model: CoinnovationModel
    metrics: pd.DataFrame
    metrics_long: pd.DataFrame
    flows: pd.DataFrame
    ledger: pd.DataFrame
    costs: pd.DataFrame
    collaborations: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_model(cls, model: CoinnovationModel, timings: dict[str, float]) -> RunResult:
        """Build the result tables once, after the run."""
        steps = len(model.metric_rows)
        return cls(
            scenario=model.config, seed=model.seed, model=model,
            metrics=metrics_frame(model), metrics_long=long_frame(model),
            flows=model.book.to_frame(model.places.ids, steps),
            ledger=model.book.ledger_frame(model.places.ids, steps),
            costs=costs_frame(model), collaborations=collaborations_frame(model),
            timings=timings,
        )

    def manifest(self) -> dict[str, Any]:
        """What the run directory's ``manifest.json`` records."""
        return {
            "scenario": self.scenario.resolved(),
            "scenario_source": self.scenario.source,
            "scenario_sha256": self.scenario.digest(),
            "seed": self.seed,
            "steps": len(self.metrics),
            "start_month": month_label(0),
            "versions": versions(),
            "platform": platform.platform(),
            "timings_seconds": self.timings,
            "files": ["metrics.parquet", "metrics_long.parquet", "flows.parquet",
                      "ledger.parquet", "costs.parquet", "collaborations.parquet",
                      "place_graph.graphml"],
        }

    def save(self, path: str | Path, force: bool = False) -> Path:
        """Write the run directory.

        Parameters
        ----------
        path : str or Path
            Directory to create (or an empty existing one).
        force : bool
            Replace a non-empty directory.

        Returns
        -------
        Path
            The directory written.

        Raises
        ------
        InputError
            If ``path`` is a non-empty directory and ``force`` is false, or is not writable.
        """
        out = Path(path)
        check_out(out, force)
        with atomic_directory(out, "run directory") as tmp:
            write_parquet(self.metrics, tmp / "metrics.parquet", index=True)
            write_parquet(self.metrics_long, tmp / "metrics_long.parquet")
            write_parquet(self.flows, tmp / "flows.parquet")
            write_parquet(self.ledger, tmp / "ledger.parquet")
            write_parquet(self.costs, tmp / "costs.parquet")
            write_parquet(self.collaborations, tmp / "collaborations.parquet")
            nx.write_graphml(self.model.place_graph, tmp / "place_graph.graphml")
            (tmp / "manifest.json").write_text(
                json.dumps(self.manifest(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return out


def check_out(out: Path, force: bool) -> None:
    """Refuse an output path that is a file, or a non-empty directory without ``force``.

    Parameters
    ----------
    out : Path
        The output directory asked for (``--out``).
    force : bool
        Whether a non-empty directory may be replaced.

    Raises
    ------
    InputError
        One line naming the path.
    """
    if out.exists() and not out.is_dir():
        raise InputError(str(out), "--out", "exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise InputError(str(out), "--out", "directory is not empty (use --force to replace it)")


@contextmanager
def atomic_directory(out: Path, what: str = "output directory") -> Iterator[Path]:
    """Write a directory completely or not at all.

    Yields a temporary sibling directory to fill; when the block ends without error it replaces
    ``out`` (or becomes it) by renames, so a reader never sees a half-written ``out``. On any
    error the temporary directory is removed; an ``OSError`` becomes a one-line
    :class:`InputError`.

    Parameters
    ----------
    out : Path
        The directory to produce.
    what : str
        What is written, for the error message.

    Yields
    ------
    Path
        The temporary directory to write into.
    """
    parent = out.absolute().parent
    tmp = parent / f".{out.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
        yield tmp
        if out.exists():
            old = parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise InputError(str(out), "--out", f"cannot write {what} ({exc.strerror})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
