"""numba's on-disk cache, kept honest across modules.

numba judges a cached kernel by its own file only (0.68: a hash of that file's bytes). A kernel that calls a
jitted function, or reads a constant, from another module keeps its old machine code when only that other
module changes: after a `git pull` or an edit, a run could silently use the old maths (found in session 11:
`touch`-ing the callers, the old workaround, no longer invalidates anything). So before any kernel loads
(`backtest/__init__.py` calls `fresh`), each of our modules that uses numba is keyed on the bytes of every
module of the package it imports, directly or through others; where a key changed since the last run, that
module's cache files go and numba compiles it again (~66 CPU-s for every kernel, far less for a few).

Only numba's default cache beside the sources is handled: with NUMBA_CACHE_DIR set, or a package folder that
cannot be written (an installed wheel, replaced whole on upgrade), nothing is done."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
MANIFEST = "kernel_keys.json"   # in the package's __pycache__: {"stamp": the files' mtimes and sizes, "keys": module -> key}
_FROM = re.compile(r"^[ \t]*from[ \t]+([\w.]+)[ \t]+import[ \t]+(\([^)]*\)|[^\n#]+)", re.M)
_IMPORT = re.compile(r"^[ \t]*import[ \t]+([\w.]+)", re.M)


def fresh(root: Path = PACKAGE) -> list[str]:
    """Remove the cache files of every module under `root` whose key changed; returns those modules."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return []
    try:
        paths = modules(root)
        stamp = hashlib.sha256(repr(sorted((n, *_stat(p)) for n, p in paths.items())).encode()).hexdigest()
        manifest = root / "__pycache__" / MANIFEST
        try:
            old = json.loads(manifest.read_text())
        except (OSError, ValueError):
            old = {}                            # first run, or caches from before this check: all go
        if old.get("stamp") == stamp:           # no file touched since the last check (~2 ms, not ~30)
            return []
        sources = {name: path.read_bytes() for name, path in paths.items()}
        keys, was = kernel_keys(sources, root.name), old.get("keys", {})
        stale = sorted(m for m in keys if was.get(m) != keys[m])
        for m in stale:
            _forget(paths[m])
        manifest.parent.mkdir(exist_ok=True)
        part = manifest.with_name(f"{MANIFEST}.{os.getpid()}")
        part.write_text(json.dumps({"stamp": stamp, "keys": keys}, sort_keys=True))
        os.replace(part, manifest)              # whole or not at all: another process may read it now
        return stale
    except OSError:                             # a folder we cannot write: numba's own locator falls back
        return []


def modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py under `root` (a package folder)."""
    out = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def kernel_keys(sources: dict[str, bytes], package: str) -> dict[str, str]:
    """Each module whose source names numba -> sha256 of the sources of it and everything of `package` it
    imports, transitively (a constant or a jitted callee there is compiled into its kernels)."""
    edges = {name: imports(text.decode("utf-8", "replace"), set(sources), package) for name, text in sources.items()}
    keys = {}
    for name, text in sources.items():
        if b"numba" not in text:
            continue
        seen, todo = {name}, [name]
        while todo:
            for target in edges[todo.pop()] - seen:
                seen.add(target)
                todo.append(target)
        digest = hashlib.sha256()
        for m in sorted(seen):
            digest.update(m.encode() + b"\0" + sources[m] + b"\0")
        keys[name] = digest.hexdigest()
    return keys


def imports(text: str, known: set[str], package: str) -> set[str]:
    """The modules of `known` that `text` imports (`from a.b import c` is a.b.c where that is a module, else
    a.b)."""
    found = set()
    for base, names in _FROM.findall(text):
        for name in names.strip("()").replace("\n", " ").split(","):
            name = name.split("#")[0].strip().split(" as ")[0].strip()
            found.add(f"{base}.{name}" if f"{base}.{name}" in known else base)
    found.update(_IMPORT.findall(text))
    return {name for name in found if name in known and name.split(".")[0] == package}


def _stat(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_size


def _forget(path: Path) -> None:
    """numba's files of the module at `path`: __pycache__/<file stem>.<function>-<line>.py<version>[.n].nbi/nbc."""
    for f in (path.parent / "__pycache__").glob(f"{path.stem}.*.nb[ic]"):
        try:
            f.unlink()
        except FileNotFoundError:               # another process took it first
            pass
