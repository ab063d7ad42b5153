import os
import stat

import pytest

from sim.core import atomic


def test_write_bytes_replaces_whole_and_follows_the_umask(tmp_path):
    path = tmp_path / "summary.json"
    path.write_text("old")
    old_mask = os.umask(0o022)
    try:
        atomic.write_text(path, "new")
    finally:
        os.umask(old_mask)
    assert path.read_text() == "new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # readable by a team, not mkstemp's 0600
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]  # no temporary left


def test_a_failed_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "fig.png"
    path.write_bytes(b"old")

    class Broken:
        def savefig(self, buf, **kw):
            raise RuntimeError("render failed")

    with pytest.raises(RuntimeError):
        atomic.save_figure(Broken(), path)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["fig.png"]


def test_a_durable_write_fsyncs_file_and_dir_and_a_marker_neither(tmp_path, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real(fd))
    path = tmp_path / "run.json"
    atomic.write_text(path, "complete")
    assert len(synced) == 2 and path.read_text() == "complete"
    synced.clear()
    atomic.write_text(path, "running", durable=False)
    assert synced == [] and path.read_text() == "running"
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]
