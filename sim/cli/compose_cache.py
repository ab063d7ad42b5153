"""A cache of Hydra's composition work that outlives the process (``python -m sim`` start-up).

Composing the config is most of what Hydra does before a job starts (~0.1 s of a 0.5 s
start-up): the defaults list is built by reading every YAML file it names, and the files are
parsed and merged. Both depend only on the *shape* of the command line (the config name, the
group choices, additions and deletions, the sweeps; not on values such as ``seed=3`` or
``hydra.run.dir=DIR``, which Hydra applies afterwards) and on what the config sources hold.
:func:`sim.cli.app.one_composition` keeps them per process; this module keeps them on disk so
that the next process with the same shape skips them:

* an entry holds Hydra's defaults list (its ``defaults``, ``defaults_tree`` and the group
  choices it found) and the merged config before any value override, pickled; another kind
  holds a YAML file's config (the primary config is loaded by every composition, to find its
  search path, before the shape is known), named by the file's text;
* its name is a digest of the shape and of a **fingerprint** of everything else the two can
  depend on: the config sources (their scheme, path and provider), the names of every file and
  directory under a ``file://`` source (conf/) and the contents of its YAML files, the
  versions of Python, Hydra, OmegaConf and PyYAML, the Hydra plugins installed (file names,
  sizes and times) and the structured configs registered (names), and the ``sim`` package's
  source digest (so a new version of this code never reads an old entry). A source that
  cannot be fingerprinted (a ``pkg://`` source other than Hydra's own, a scheme we do not
  know, a file source of more than :data:`MAX_FILES` files or :data:`MAX_BYTES` of YAML)
  turns the cache off for that composition;
* a composition that raises is never stored; neither is one during which Hydra warned (the
  warning would not be repeated by a cached run).

So an edited (by contents, not time), added or removed conf file, a new plugin or a code change
composes afresh; an entry could be stale only through something outside this list (a Hydra
installation edited in place without a new version).

Where: ``$INSIDER_SIM_CACHE_DIR/compose`` if that variable is set (``off`` turns the cache
off), else ``$XDG_CACHE_HOME/insider-sim/compose`` or ``~/.cache/insider-sim/compose``; the
directory is created private to the user (entries are pickles, like ``.pyc`` files: only the
user's own process writes them). At most :data:`MAX_ENTRIES` entries are kept, the least
recently used go first. A cache that cannot be read or written (a read-only home, a corrupt
entry) only costs the composition: it never changes a result or stops a run.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: The environment variable naming the cache directory (``off`` disables the cache).
CACHE_ENV = "INSIDER_SIM_CACHE_DIR"
#: Bumped when an entry's layout changes.
FORMAT = 1
#: Entries kept (each some 30 KB); beyond it the least recently used are removed.
MAX_ENTRIES = 256
#: A temporary file this old belongs to a writer that was killed mid-write (a write takes ms).
STALE_TMP_SECONDS = 3600
#: A file source with more files than this, or more bytes of YAML (someone's home dir as a
#: search path), is not fingerprinted: the composition is not cached.
MAX_FILES = 5000
MAX_BYTES = 16 * 2**20
#: a conf file modified this soon before a process began composing counts as changed during it
#: (file systems with coarse timestamps): its composition is not stored, only recomposed
MTIME_SLACK_NS = 2 * 10**9


def cache_dir() -> Path | None:
    """The directory entries live in, or None when the cache is off (``INSIDER_SIM_CACHE_DIR
    =off``)."""
    value = os.environ.get(CACHE_ENV)
    if value is not None:
        if value.strip().lower() in ("", "off", "0", "false", "no", "none"):
            return None
        return Path(value).expanduser() / "compose"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "insider-sim" / "compose"


def _tree_digest(root: str, h: Any) -> bool:
    """Feed the names of every dir and file under ``root`` (a group exists where a dir does)
    and the bytes of every YAML file (the only files Hydra reads) to ``h``; False when the tree
    is too large to fingerprint (:data:`MAX_FILES` files or :data:`MAX_BYTES` of YAML).
    Symlinked dirs are followed, as Hydra follows them (a loop ends at :data:`MAX_FILES`)."""
    count = size = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames.sort()
        rel = os.path.relpath(dirpath, root)
        h.update(b"D" + rel.encode("utf-8", "surrogateescape") + b"\0")
        for name in sorted(filenames):
            count += 1
            if count > MAX_FILES:
                return False
            h.update(b"F" + name.encode("utf-8", "surrogateescape") + b"\0")
            if not name.endswith((".yaml", ".yml")):
                continue
            try:
                with open(os.path.join(dirpath, name), "rb") as f:
                    data = f.read(MAX_BYTES - size + 1)
            except OSError:
                data = b"?unreadable"
            size += len(data)
            if size > MAX_BYTES:
                return False
            h.update(data + b"\0")
    return True


def _plugins_digest(h: Any) -> None:
    """The installed Hydra plugins (files of the ``hydra_plugins`` namespace: names, sizes,
    modification times) and the names of the structured configs registered so far."""
    try:
        import hydra_plugins
        paths = sorted(str(p) for p in hydra_plugins.__path__)
    except ImportError:
        paths = []
    for base in paths:
        if not os.path.isdir(base):
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                try:
                    st = os.stat(os.path.join(dirpath, name))
                except OSError:
                    continue
                h.update(f"{dirpath}/{name}:{st.st_size}:{st.st_mtime_ns}\0".encode())
    from hydra.core.config_store import ConfigStore

    def names(node: dict[str, Any], prefix: str) -> Iterable[str]:
        for key in sorted(node):
            value = node[key]
            yield f"{prefix}{key}"
            if isinstance(value, dict):
                yield from names(value, f"{prefix}{key}/")

    h.update("\0".join(names(ConfigStore.instance().repo, "")).encode())


class ComposeCache:
    """Entries on disk, named by a digest of the shape and the fingerprint (see the module
    docstring). Every failure to read or write is a miss."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._fingerprints: dict[tuple[Any, ...] | None, str | None] = {}
        #: when this process began composing, and the conf dirs its fingerprints read: a file
        #: changed since then may have been read before the fingerprint was taken
        self._started = time.time_ns()
        self._roots: list[str] = []
        self._trusted: bool | None = None

    def trusted(self) -> bool:
        """Whether the cache dir is this user's and writable by no one else (entries are
        pickles: loading a planted one would run its code). A missing dir is trusted (it is
        made private)."""
        if self._trusted is None:
            try:
                st = os.stat(self.directory)
            except FileNotFoundError:
                return True
            except OSError:
                self._trusted = False
                return False
            self._trusted = st.st_uid == os.getuid() and not st.st_mode & 0o022
        return self._trusted

    def unchanged(self) -> bool:
        """Whether no file under the fingerprinted conf dirs was modified since this process
        began composing (with :data:`MTIME_SLACK_NS` of slack for coarse clocks): else the
        composition may mix old and new files under the new fingerprint, and is not stored."""
        since = self._started - MTIME_SLACK_NS
        for root in self._roots:
            for dirpath, _dirnames, filenames in os.walk(root, followlinks=True):
                for name in filenames:
                    try:
                        if os.stat(os.path.join(dirpath, name)).st_mtime_ns >= since:
                            return False
                    except OSError:
                        return False
        return True

    def versions(self) -> str:
        """The digest of the software an entry depends on: this format, Python, Hydra,
        OmegaConf, PyYAML and the ``sim`` package (version and source digest). It alone names a
        parsed YAML file's entry (with the file's contents, :meth:`load_yaml`)."""
        if None not in self._fingerprints:
            import hydra
            import omegaconf
            import yaml

            from sim import __version__
            from sim.cli.sweep import source_digest

            self._fingerprints[None] = hashlib.sha256(repr((
                FORMAT, sys.version, hydra.__version__, omegaconf.__version__,
                yaml.__version__, __version__, source_digest())).encode()).hexdigest()
        return str(self._fingerprints[None])

    def fingerprint(self, sources: tuple[tuple[str, str, str], ...]) -> str | None:
        """The digest of everything besides the shape that an entry depends on, for these
        config sources (``(scheme, path, provider)``); None when one of them cannot be
        fingerprinted. Computed once per process and set of sources."""
        if sources in self._fingerprints:
            return self._fingerprints[sources]
        h = hashlib.sha256(self.versions().encode())
        ok = True
        for scheme, path, provider in sources:
            h.update(f"\0S{scheme}\0{path}\0{provider}\0".encode())
            if scheme == "file":
                ok = os.path.isdir(path) and _tree_digest(path, h)
                self._roots.append(path)
            elif scheme == "pkg":
                ok = path == "hydra.conf"  # Hydra's own: its version is in the digest
            elif scheme == "structured":
                _plugins_digest(h)
            else:
                ok = False
            if not ok:
                break
        digest = h.hexdigest() if ok else None
        self._fingerprints[sources] = digest
        return digest

    def _path(self, key: tuple[Any, ...], fingerprint: str) -> Path:
        name = hashlib.sha256(repr((key, fingerprint)).encode()).hexdigest()[:40]
        return self.directory / f"{name}.pkl"

    def load(self, key: tuple[Any, ...], fingerprint: str) -> dict[str, Any] | None:
        """The entry stored for ``key`` (a shape) under ``fingerprint``, or None."""
        if not self.trusted():
            return None
        path = self._path(key, fingerprint)
        try:
            with open(path, "rb") as f:
                entry = pickle.load(f)
        except FileNotFoundError:
            return None
        except Exception:  # noqa: BLE001 - a corrupt or foreign entry is a miss
            return None
        if not isinstance(entry, dict) or entry.get("format") != FORMAT \
                or entry.get("key") != repr(key) or entry.get("fingerprint") != fingerprint:
            return None
        try:
            os.utime(path)  # recently used: pruned last
        except OSError:
            pass
        return entry

    def save(self, key: tuple[Any, ...], fingerprint: str, guard: bool = True,
             **payload: Any) -> None:
        """Store an entry (atomically: a reader sees the old one, the new one or none); with
        ``guard``, only if conf/ is :meth:`unchanged` (an entry named by its content needs
        no guard)."""
        if not self.trusted() or (guard and not self.unchanged()):
            return
        entry = {"format": FORMAT, "key": repr(key), "fingerprint": fingerprint, **payload}
        path = self._path(key, fingerprint)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                pickle.dump(entry, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except Exception:  # noqa: BLE001 - a cache that cannot be written is no cache
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
            return
        self._prune()

    def _prune(self) -> None:
        """Remove the least recently used entries beyond :data:`MAX_ENTRIES`, and the
        temporary files of writers killed mid-write (older than :data:`STALE_TMP_SECONDS`)."""
        stale = time.time_ns() - STALE_TMP_SECONDS * 1_000_000_000
        entries = []
        try:
            listing = list(os.scandir(self.directory))
        except OSError:
            return
        for e in listing:  # another process may remove or rename any of them meanwhile
            try:
                if e.name.endswith(".pkl"):
                    entries.append((e.stat().st_mtime_ns, e.path))
                elif e.name.endswith(".tmp") and e.stat().st_mtime_ns < stale:
                    os.unlink(e.path)
            except OSError:
                continue
        if len(entries) <= MAX_ENTRIES:
            return
        entries.sort()
        for _mtime, path in entries[:len(entries) - MAX_ENTRIES]:
            try:
                os.unlink(path)
            except OSError:
                pass

    def load_yaml(self, text: str) -> tuple[Any, dict[str, Any]] | None:
        """The config (as :func:`sim.cli.app.one_composition` keeps it: pickled) and header of
        a YAML file with this text, if an earlier process stored them (:meth:`save_yaml`)."""
        entry = self.load(("yaml", hashlib.sha256(text.encode()).hexdigest()), self.versions())
        return None if entry is None else (entry["data"], entry["header"])

    def save_yaml(self, text: str, data: Any, header: dict[str, Any]) -> None:
        """Keep a YAML file's config and header, named by its text and the software."""
        self.save(("yaml", hashlib.sha256(text.encode()).hexdigest()), self.versions(),
                  guard=False, data=data, header=header)


def open_cache() -> ComposeCache | None:
    """The cache for this process, or None when it is off."""
    directory = cache_dir()
    return ComposeCache(directory) if directory is not None else None
