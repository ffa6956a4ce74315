"""Byte-identity check for optimisations: same seed, same output bytes before and after a change.

An optimisation that should not change results is checked by running a fixed set of reference
runs (every mechanism, several seeds, 24 months) before the change (``save``) and after it
(``compare``): every output file must be byte-for-byte the same. See docs/performance.md
(*Method*).

Usage::

    python benchmarks/byte_check.py save /tmp/refs      # before the change
    python benchmarks/byte_check.py compare /tmp/refs   # after it: exit status 1 on a difference

``--steps`` and ``--only NAME`` (repeatable) narrow the set.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: (scenario, seed) pairs of the reference runs: every mechanism alone and all together.
REFERENCE_RUNS = (
    ("all-mechanisms", 4),
    ("all-mechanisms", 7),
    ("baseline", 3),
    ("enclaves", 5),
    ("vouchers-portable", 6),
    ("vouchers-local", 8),
    ("coordination", 9),
    ("tech-market", 10),
    ("status-quo-2020", 11),
    ("g60", 12),
    ("jkt", 13),
    ("demo-zone", 14),
)


def write_runs(out: Path, steps: int, only: list[str] | None) -> list[Path]:
    """Run the reference runs and save each to ``out/<scenario>-<seed>``; return the folders."""
    from coinnovation_sim import run

    folders = []
    for name, seed in REFERENCE_RUNS:
        if only and name not in only:
            continue
        folder = out / f"{name}-{seed}"
        if folder.exists():
            shutil.rmtree(folder)
        run(ROOT / "scenarios" / f"{name}.yaml", seed, steps=steps).save(folder)
        folders.append(folder)
    return folders


def compare(ref: Path, new: Path) -> list[str]:
    """Names of the files that differ between two saved runs (or exist in only one)."""
    a = {p.relative_to(ref) for p in ref.rglob("*") if p.is_file()}
    b = {p.relative_to(new) for p in new.rglob("*") if p.is_file()}
    bad = sorted(str(p) for p in a ^ b)
    for rel in sorted(a & b):
        if rel.suffix == ".json":  # run metadata (timestamps, versions) is not a result
            continue
        if not filecmp.cmp(ref / rel, new / rel, shallow=False):
            bad.append(str(rel))
    return bad


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("save", "compare"))
    ap.add_argument("refs", type=Path, help="folder of the reference runs")
    ap.add_argument("--steps", type=int, default=24)
    ap.add_argument("--only", action="append", help="scenario name (repeatable)")
    a = ap.parse_args()
    if a.mode == "save":
        for folder in write_runs(a.refs, a.steps, a.only):
            print(f"saved {folder}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        folders = write_runs(Path(tmp), a.steps, a.only)
        failed = 0
        for folder in folders:
            bad = compare(a.refs / folder.name, folder)
            failed += bool(bad)
            print(f"{folder.name:28s} {'identical' if not bad else 'DIFFERS: ' + ', '.join(bad)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
