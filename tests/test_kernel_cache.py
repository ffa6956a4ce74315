"""On-disk kernel cache: renewed when any source file of the package changes, never stale.

numba alone checks only a kernel's own source file before loading it from its cache, so a kernel
whose callee, inlined helper or constant changed in another file would keep the old machine code.
The fresh-process test builds that case in a copy of the package.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from coinnovation_sim import kernels
from helpers import cli_env

pytestmark = pytest.mark.skipif(not kernels.COMPILING, reason="kernels not compiled")

_CALLEE = '''"""Probe: a helper inlined into, and a constant read by, a kernel of another module."""
from .kernels import jit_inline

SCALE = {scale}


@jit_inline
def add_one(x):
    """``x`` plus a constant."""
    return x + {add}
'''

_CALLER = '''"""Probe: a cached kernel using another module's helper and constant."""
from ._probe_callee import SCALE, add_one
from .kernels import jit


@jit
def probe(x):
    """The helper's result times the constant."""
    return add_one(x) * SCALE
'''

_SCRIPT = """
import coinnovation_sim
from coinnovation_sim._probe_caller import probe
assert coinnovation_sim.__file__.startswith({root!r}), coinnovation_sim.__file__
value = probe(1.0)
print(value, sum(probe.stats.cache_misses.values()), sum(probe.stats.cache_hits.values()))
"""


def _package_copy(tmp_path: Path) -> Path:
    """A copy of the package's sources (no caches) with the probe modules, under ``tmp_path``."""
    package = Path(kernels.__file__).resolve().parent
    copy = tmp_path / "src" / "coinnovation_sim"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "_probe_caller.py").write_text(_CALLER)
    (copy / "_probe_callee.py").write_text(_CALLEE.format(scale=2.0, add=1.0))
    return copy


def _probe(copy: Path, cache_dir: Path | None = None) -> tuple[float, int, int]:
    """Run the probe kernel in a fresh process: (value, compiled signatures, loaded signatures)."""
    env = cli_env()
    env["PYTHONPATH"] = str(copy.parent)
    env.pop("NUMBA_CACHE_DIR", None)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = str(cache_dir)
    proc = subprocess.run([sys.executable, "-c", _SCRIPT.format(root=str(copy))],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    value, misses, hits = proc.stdout.split()
    return float(value), int(misses), int(hits)


def test_a_change_in_another_module_recompiles_the_kernel(tmp_path):
    """A changed callee module (helper and constant) gives a fresh kernel, not the cached one."""
    copy = _package_copy(tmp_path)
    assert _probe(copy) == (4.0, 1, 0)                     # compiled and saved
    assert _probe(copy) == (4.0, 0, 1)                     # loaded: the sources are unchanged
    (copy / "_probe_callee.py").write_text(_CALLEE.format(scale=3.0, add=100.0))
    assert _probe(copy) == (303.0, 1, 0)                   # numba alone would load 4.0
    assert _probe(copy) == (303.0, 0, 1)
    tags = sorted(p.name for p in (copy / "__pycache__").glob("numba-*"))
    assert len(tags) == 1                                  # the old tag's cache was deleted


def test_a_user_cache_dir_is_respected(tmp_path):
    """With ``NUMBA_CACHE_DIR`` set, the tag directories are made under it, not in the package."""
    copy = _package_copy(tmp_path)
    cache = tmp_path / "cache"
    assert _probe(copy, cache) == (4.0, 1, 0)
    assert _probe(copy, cache) == (4.0, 0, 1)
    assert list(cache.glob("coinnovation_sim_*/numba-*/_probe_caller.probe-*.nbi"))
    assert not (copy / "__pycache__").exists() or not list((copy / "__pycache__").glob("numba-*"))


def test_source_tag_covers_content_and_paths_not_times(tmp_path):
    """The tag changes with any byte or name of a Python file, not with times or other files."""
    from coinnovation_sim.kernel_cache import source_tag

    (tmp_path / "sub").mkdir()
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "sub" / "b.py").write_text("y = 2\n")
    tag = source_tag(tmp_path, ("1.0",))
    assert len(tag) == 16 and int(tag, 16) >= 0
    os.utime(tmp_path / "a.py", (0, 0))
    (tmp_path / "notes.txt").write_text("not code")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "c.py").write_text("cached")
    assert source_tag(tmp_path, ("1.0",)) == tag
    assert source_tag(tmp_path, ("1.1",)) != tag
    (tmp_path / "sub" / "b.py").write_text("y = 3\n")
    assert source_tag(tmp_path, ("1.0",)) != tag
    (tmp_path / "sub" / "b.py").write_text("y = 2\n")
    assert source_tag(tmp_path, ("1.0",)) == tag
    (tmp_path / "sub" / "b.py").rename(tmp_path / "b.py")
    assert source_tag(tmp_path, ("1.0",)) != tag


def test_the_package_tag_is_the_hash_of_its_sources():
    from coinnovation_sim import kernel_cache

    tag = kernel_cache.cache_tag()
    assert tag == kernel_cache.source_tag(kernel_cache.PACKAGE_ROOT, (
        kernel_cache.numba.__version__, kernel_cache.llvmlite.__version__,
        kernel_cache.np.__version__))
    assert kernels.max0._cache.cache_path.endswith(f"numba-{tag}")


def test_the_creator_of_a_tag_directory_deletes_the_other_tags_only(tmp_path):
    from coinnovation_sim.kernel_cache import TaggedLocator

    class Inner:
        def get_cache_path(self):
            return str(tmp_path)

    old = tmp_path / "numba-0123456789abcdef"
    old.mkdir()
    (old / "f.nbi").write_bytes(b"old")
    keep = [tmp_path / "numba-other", tmp_path / "x.nbi", tmp_path / "m.cpython-312.pyc"]
    keep[0].mkdir()
    for path in keep[1:]:
        path.write_bytes(b"")
    locator = TaggedLocator(Inner(), "fedcba9876543210")
    locator.ensure_cache_path()
    assert Path(locator.get_cache_path()).is_dir() and not old.exists()
    assert all(path.exists() for path in keep)
    old.mkdir()                                     # not the creator (it exists): no pruning
    locator.ensure_cache_path()
    assert old.exists()


def test_an_unusable_cache_means_compiling_not_failing(tmp_path):
    """Reads and writes that fail (e.g. a directory deleted meanwhile) are skipped."""
    from coinnovation_sim.kernel_cache import TaggedCache

    def twice(x):
        return 2.0 * x

    cache = TaggedCache(kernels.max0.py_func)
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    cache._impl.locator._path = str(blocker / "sub")        # cannot be made a directory
    cache._cache_file._cache_path = str(blocker / "sub")
    cache._cache_file._index_path = str(blocker / "sub" / "index.nbi")
    compiled = kernels.numba.njit(twice)
    compiled(1.0)
    result = compiled.overloads[compiled.signatures[0]]
    cache.save_overload(compiled.signatures[0], result)      # no error
    assert cache.load_overload(compiled.signatures[0], compiled.targetctx) is None


def test_without_a_writable_location_a_kernel_is_compiled_uncached(monkeypatch):
    """A read-only install (no location numba can write): the kernel works, in-process only."""
    from numba.core.caching import NullCache

    from coinnovation_sim import kernel_cache

    monkeypatch.setattr(kernel_cache.TaggedCacheImpl, "_locator_classes", [])

    def triple(x):
        return 3.0 * x

    compiled = kernels.numba.njit(triple)
    kernel_cache.enable_caching(compiled)
    assert isinstance(compiled._cache, NullCache)
    assert compiled(2.0) == 6.0
