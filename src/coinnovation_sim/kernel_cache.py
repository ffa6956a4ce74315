"""On-disk cache of the compiled kernels, renewed whenever any source file of the package changes.

numba keeps a function compiled with ``cache=True`` on disk and checks, when it loads it, only
that the function's own source file is unchanged. The cached machine code of a kernel also holds
the kernels it calls, the helpers it inlines and the module constants it reads, which are often
defined in other files: after an update that changes only such a file, numba would load a kernel
built with the old code, and a run would no longer give the bytes a fresh install gives (numba
documents this limitation of its cache and the global-constant one, numba issue #1833).

Here each kernel is cached in a subdirectory, ``numba-<tag>``, of the directory numba would use
(``NUMBA_CACHE_DIR`` if set, else the ``__pycache__`` next to the module, else numba's per-user
cache); ``<tag>`` is a hash of every Python source file of the package (its path in the package
and its bytes) and of the numba, llvmlite and numpy versions. Any change of them leads to another
directory, empty, so the kernels are compiled again; the process that creates the new directory
deletes the ``numba-*`` directories of earlier tags beside it. The cache is a convenience only:
where it cannot be read or written (a read-only install, a directory removed by a concurrent
process), the kernels are compiled in the process instead.

Only the kernels of this package are cached this way (:func:`enable_caching` sets the cache of one
numba dispatcher); numba's configuration for other libraries is not changed.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import llvmlite
import numba
import numpy as np
from numba.core import caching

#: The package's source tree, whose Python files the cache tag covers.
PACKAGE_ROOT = Path(__file__).resolve().parent
#: Names of the cache subdirectories (one per tag).
_TAG_DIR = re.compile(r"numba-[0-9a-f]{16}\Z")

_tag: str | None = None


def source_files(root: Path) -> list[tuple[str, str]]:
    """The Python source files under ``root``, as (path relative to ``root``, full path), sorted.

    ``__pycache__`` and hidden directories are skipped.
    """
    found = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [d for d in subfolders if d != "__pycache__" and not d.startswith(".")]
        rel = os.path.relpath(folder, root).replace(os.sep, "/")
        for name in names:
            if name.endswith(".py"):
                found.append((name if rel == "." else f"{rel}/{name}", os.path.join(folder, name)))
    return sorted(found)


def source_tag(root: Path, versions: tuple[str, ...] = ()) -> str:
    """A hash (16 hex digits) of the Python sources under ``root`` and of ``versions``.

    Parameters
    ----------
    root : Path
        Directory of a package.
    versions : tuple of str
        Other inputs of the compiled code (library versions).

    Returns
    -------
    str
        The first 16 hex digits of the SHA-256 of the versions, then of each file's relative
        path, size and bytes in path order; it does not depend on modification times.

    Raises
    ------
    OSError
        If a source file cannot be read.
    """
    digest = hashlib.sha256("\0".join(versions).encode() + b"\0\0")
    for rel, path in source_files(root):
        with open(path, "rb") as f:
            data = f.read()
        digest.update(f"{rel}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()[:16]


def cache_tag() -> str | None:
    """The tag of this package's sources and libraries (computed once), or None if unreadable."""
    global _tag
    if _tag is None:
        if not os.path.isfile(__file__):  # pragma: no cover - e.g. imported from a zip archive
            return None
        try:
            _tag = source_tag(PACKAGE_ROOT, (numba.__version__, llvmlite.__version__,
                                             np.__version__))
        except OSError:  # pragma: no cover - sources unreadable: no cache
            return None
    return _tag


def prune(parent: str, keep: str) -> None:
    """Delete the tag directories in ``parent`` other than ``keep`` (best effort, never raises)."""
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return
    for entry in entries:
        if entry.name != keep and _TAG_DIR.match(entry.name):
            shutil.rmtree(entry.path, ignore_errors=True)


class TaggedLocator(caching._CacheLocator):
    """numba's cache location of a function, in the subdirectory of the source tag.

    Parameters
    ----------
    inner : numba.core.caching._CacheLocator
        The locator numba chose for the function.
    tag : str
        The source tag (:func:`cache_tag`).
    """

    def __init__(self, inner: Any, tag: str) -> None:
        self._inner = inner
        self._path = os.path.join(inner.get_cache_path(), f"numba-{tag}")

    def get_cache_path(self) -> str:
        """The tag's directory in numba's cache directory of the function."""
        return self._path

    def get_source_stamp(self) -> Any:
        """The stamp (numba's) of the function's own source file."""
        return self._inner.get_source_stamp()

    def get_disambiguator(self) -> str:
        """The disambiguator (numba's) of functions with the same name."""
        return self._inner.get_disambiguator()

    def ensure_cache_path(self) -> None:
        """Create the tag's directory (the creator prunes other tags) and check it is writable."""
        parent, name = os.path.split(self._path)
        os.makedirs(parent, exist_ok=True)
        try:
            os.mkdir(self._path)
        except FileExistsError:
            pass
        else:
            prune(parent, keep=name)
        tempfile.TemporaryFile(dir=self._path).close()


class TaggedCacheImpl(caching.CompileResultCacheImpl):
    """numba's cache of compile results, located by :class:`TaggedLocator`."""

    def __init__(self, py_func: Any) -> None:
        super().__init__(py_func)              # numba's choice of location (or RuntimeError)
        tag = cache_tag()
        if tag is None:  # pragma: no cover
            raise RuntimeError("package sources unreadable: no cache tag")
        self._locator = TaggedLocator(self._locator, tag)


class TaggedCache(caching.FunctionCache):
    """A kernel's on-disk cache; read or write failures mean compiling, never an error."""

    _impl_class = TaggedCacheImpl

    def load_overload(self, sig: Any, target_context: Any) -> Any:
        """The cached compile result for ``sig``, or None (then numba compiles)."""
        try:
            return super().load_overload(sig, target_context)
        except OSError:
            return None

    def save_overload(self, sig: Any, data: Any) -> None:
        """Save a compile result; skipped if the cache cannot be written."""
        try:
            super().save_overload(sig, data)
        except OSError:
            pass


def enable_caching(dispatcher: Any) -> None:
    """Cache ``dispatcher`` (a numba dispatcher, not yet compiled) in the tagged location.

    Where no cache location can be written, or the sources cannot be hashed, the dispatcher stays
    uncached (it compiles in every process).
    """
    try:
        dispatcher._cache = TaggedCache(dispatcher.py_func)
    except RuntimeError:  # no writable location (numba's message) or no tag
        pass
