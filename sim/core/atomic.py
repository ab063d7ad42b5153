"""Atomic file writes: a reader sees either the old file or the whole new one, never a part.

Every result file the package writes (summaries, tables, figures, reports) goes through
:func:`write_bytes`: a temporary file in the same directory, fsynced, renamed onto the target,
and the directory fsynced so the rename survives a power loss. The new file's mode follows the
umask like any other new file (not ``mkstemp``'s 0600), so teammates sharing a sweep dir can
read it.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Best-effort fsync of a directory, so a rename in it is durable (no-op if unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes(path: str | os.PathLike[str], data: bytes, *, durable: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically; return the path.

    ``durable=False`` skips the two fsyncs (about 10 ms on a busy disk): still atomic for
    readers, but a power loss may leave the old file. Only for a marker that may be lost,
    such as the ``running`` record a job writes before it starts.

    Raises:
        OSError: the directory is missing or not writable (the old file is untouched).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)
    return path


def write_text(path: str | os.PathLike[str], text: str, *, durable: bool = True) -> Path:
    """:func:`write_bytes` for UTF-8 text."""
    return write_bytes(path, text.encode("utf-8"), durable=durable)


def save_figure(fig: Any, path: str | os.PathLike[str], **savefig: Any) -> Path:
    """Render a matplotlib figure as PNG and write it atomically (``savefig`` options pass on)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", **savefig)
    return write_bytes(path, buf.getvalue())
