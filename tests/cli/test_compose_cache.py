"""The composition cache that outlives a process (sim.cli.compose_cache): a hit gives the very
outputs a fresh composition gives, and anything that can change a composition misses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.cli.app import CONF_DIR

ROOT = Path(__file__).resolve().parents[2]

#: run.json and sweep.json fields that differ between two runs of one command (when, which
#: process, how long).
VOLATILE = ("started", "started_at", "finished", "runtime_s", "pid")


def run_sim(cache: str | Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "INSIDER_SIM_CACHE_DIR": str(cache)}
    proc = subprocess.run([sys.executable, "-m", "sim", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc


def job_files(job_dir: Path) -> dict[str, bytes]:
    """Every output of a job (or sweep) dir, run.json and sweep.json without their volatile
    fields."""
    out = {}
    for path in sorted(job_dir.rglob("*")):
        if not path.is_file() or path.name.endswith(".log"):
            continue
        data = path.read_bytes()
        if path.name in ("run.json", "sweep.json"):
            meta = json.loads(data)
            for key in VOLATILE:
                meta.pop(key, None)
            data = json.dumps(meta, sort_keys=True).encode()
        out[str(path.relative_to(job_dir))] = data
    return out


def test_cached_and_uncached_runs_write_identical_outputs(tmp_path):
    """The same command three times into one dir: without the cache, with a cold cache (it
    stores the shape) and with a warm one (it reads it). replications.csv, summary.json,
    run.json (but for times and pid) and .hydra/{config,hydra,overrides}.yaml are the same
    bytes; the warm run did read the entry (the cache holds what the cold run stored, and
    nothing was added)."""
    out, cache = tmp_path / "run", tmp_path / "cache"
    args = ("scenario=coupang_2025", "replications=3", "seed=7", "output.plot=false",
            "resume=false", f"hydra.run.dir={out}")
    run_sim("off", *args)
    plain = job_files(out)
    assert {"replications.csv", "summary.json", "run.json", ".hydra/config.yaml",
            ".hydra/hydra.yaml", ".hydra/overrides.yaml"} <= set(plain)
    run_sim(cache, *args)
    stored = sorted(p.name for p in (cache / "compose").iterdir())
    assert stored and job_files(out) == plain
    os.utime(out)  # (nothing else may change between the runs)
    run_sim(cache, *args)
    assert job_files(out) == plain
    assert sorted(p.name for p in (cache / "compose").iterdir()) == stored


def test_a_sweep_with_a_warm_cache_writes_what_a_sweep_without_it_writes(tmp_path):
    """A small multirun (two seeds, two triage teams) with and without the cache: every job's
    files are the same bytes, the sweep's own multirun.yaml too."""
    cache = tmp_path / "cache"
    args = ("-m", "seed=0,1", "triage=soc_24x7,office_hours", "replications=2",
            "output.plot=false")
    run_sim(cache, *args, f"hydra.sweep.dir={tmp_path / 'cold'}")   # fills the cache
    run_sim(cache, *args, f"hydra.sweep.dir={tmp_path / 'warm'}")
    run_sim("off", *args, f"hydra.sweep.dir={tmp_path / 'off'}")
    off, warm = job_files(tmp_path / "off"), job_files(tmp_path / "warm")
    assert len([k for k in off if k.endswith("replications.csv")]) == 4

    def without_dir(files: dict[str, bytes], where: Path) -> dict[str, bytes]:
        return {k: v.replace(str(where).encode(), b"DIR") for k, v in files.items()}

    assert without_dir(warm, tmp_path / "warm") == without_dir(off, tmp_path / "off")


@pytest.fixture
def conf_copy(tmp_path):
    """A copy of conf/ to edit."""
    conf = tmp_path / "conf"
    shutil.copytree(CONF_DIR, conf)
    return conf


def compose_in(conf: Path, overrides: list[str]):
    """Compose ``conf``'s config as ``python -m sim`` does, in a fresh one_composition (what a
    new process sees: nothing kept in memory, only the disk cache)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from sim.cli.app import one_composition

    GlobalHydra.instance().clear()
    try:
        with one_composition(["-m"]), initialize_config_dir(str(conf), version_base="1.3"):
            return compose("config", overrides=overrides)
    finally:
        GlobalHydra.instance().clear()


def test_an_edited_added_or_removed_conf_file_is_composed_afresh(conf_copy, tmp_path,
                                                                 monkeypatch):
    """The cache names entries by conf/'s contents: an edit to a file the composition uses
    (even one that keeps its size and time), a new group option and a removed one are seen by
    the next composition."""
    from hydra.errors import HydraException

    monkeypatch.setenv("INSIDER_SIM_CACHE_DIR", str(tmp_path / "cache"))
    assert compose_in(conf_copy, ["seed=2"]).triage.analysts == 3
    assert compose_in(conf_copy, ["seed=3"]).triage.analysts == 3  # from the cache

    soc = conf_copy / "triage" / "soc_24x7.yaml"
    st = soc.stat()
    text = soc.read_text()
    assert "analysts: 3 " in text
    soc.write_text(text.replace("analysts: 3 ", "analysts: 7 "))  # same size
    os.utime(soc, ns=(st.st_atime_ns, st.st_mtime_ns))              # same time
    assert compose_in(conf_copy, ["seed=3"]).triage.analysts == 7

    (conf_copy / "triage" / "tiny_team.yaml").write_text(
        text.replace("analysts: 3 ", "analysts: 1 "))
    assert compose_in(conf_copy, ["triage=tiny_team"]).triage.analysts == 1
    (conf_copy / "triage" / "tiny_team.yaml").unlink()
    with pytest.raises(HydraException):
        compose_in(conf_copy, ["triage=tiny_team"])


def test_a_cache_that_cannot_be_written_or_read_only_costs_time(tmp_path, monkeypatch):
    """A cache dir that cannot be created (a file is in the way) and a corrupt entry are
    misses: the composition is Hydra's own."""
    blocker = tmp_path / "blocked"
    blocker.write_text("not a directory")
    monkeypatch.setenv("INSIDER_SIM_CACHE_DIR", str(blocker))
    assert compose_in(CONF_DIR, ["seed=4"]).seed == 4

    monkeypatch.setenv("INSIDER_SIM_CACHE_DIR", str(tmp_path / "cache"))
    compose_in(CONF_DIR, ["seed=4"])
    entries = list((tmp_path / "cache" / "compose").glob("*.pkl"))
    assert entries
    for entry in entries:
        entry.write_bytes(b"garbage")
    cfg = compose_in(CONF_DIR, ["seed=5", "horizon=30d"])
    assert (cfg.seed, cfg.horizon) == (5, "30d")


def test_the_cache_keeps_at_most_max_entries(tmp_path, monkeypatch):
    """Beyond MAX_ENTRIES the least recently used entries are removed."""
    from sim.cli import compose_cache

    monkeypatch.setattr(compose_cache, "MAX_ENTRIES", 3)
    cache = compose_cache.ComposeCache(tmp_path)
    for i in range(6):
        cache.save(("shape", i), "fp", value=i)
        os.utime(cache._path(("shape", i), "fp"), ns=(i * 10**9, i * 10**9))
    cache.save(("shape", 6), "fp", value=6)
    kept = sorted(cache.load(("shape", i), "fp")["value"] for i in range(7)
                  if cache.load(("shape", i), "fp") is not None)
    assert kept == [4, 5, 6]
    assert cache.load(("shape", 6), "other fingerprint") is None


def test_a_killed_writers_temporary_file_is_removed_once_stale(tmp_path):
    """A writer killed between writing its temporary file and renaming it leaves the file;
    the next save removes it once it is older than STALE_TMP_SECONDS, not while a live
    writer may still be renaming it."""
    from sim.cli import compose_cache

    cache = compose_cache.ComposeCache(tmp_path)
    stale, fresh = tmp_path / ".a.pkl.1.2.tmp", tmp_path / ".b.pkl.3.4.tmp"
    for path in (stale, fresh):
        path.write_bytes(b"half an entry")
    old = time.time() - compose_cache.STALE_TMP_SECONDS - 60
    os.utime(stale, (old, old))
    cache.save(("shape", 0), "fp", value=0)
    assert not stale.exists() and fresh.exists()
    assert cache.load(("shape", 0), "fp")["value"] == 0


def test_off_means_no_cache(monkeypatch):
    from sim.cli import compose_cache

    for value in ("off", "0", "false", ""):
        monkeypatch.setenv("INSIDER_SIM_CACHE_DIR", value)
        assert compose_cache.open_cache() is None
    monkeypatch.setenv("INSIDER_SIM_CACHE_DIR", "/some/dir")
    assert compose_cache.cache_dir() == Path("/some/dir/compose")


def test_the_fingerprint_reads_yaml_names_and_dirs_and_gives_up_on_a_huge_tree(tmp_path,
                                                                            monkeypatch):
    """A file source's fingerprint changes with a YAML file's contents and with any name (a
    new dir is a new group); a data file's contents are not read (Hydra never reads them); a
    source beyond MAX_FILES files or MAX_BYTES of YAML is not cached (None)."""
    from sim.cli import compose_cache

    conf = tmp_path / "conf"
    (conf / "group").mkdir(parents=True)
    (conf / "config.yaml").write_text("a: 1\n")
    (conf / "notes.txt").write_text("x")
    sources = (("file", str(conf), "main"),)

    def fingerprint() -> str | None:
        return compose_cache.ComposeCache(tmp_path / "cache").fingerprint(sources)

    first = fingerprint()
    assert first is not None and fingerprint() == first
    (conf / "notes.txt").write_text("y")
    assert fingerprint() == first
    (conf / "config.yaml").write_text("a: 2\n")
    second = fingerprint()
    assert second != first
    (conf / "other").mkdir()
    assert fingerprint() not in (first, second)
    monkeypatch.setattr(compose_cache, "MAX_BYTES", 5)
    (conf / "group" / "big.yaml").write_text("b: 123456\n")
    assert fingerprint() is None
    monkeypatch.setattr(compose_cache, "MAX_BYTES", 2**20)
    monkeypatch.setattr(compose_cache, "MAX_FILES", 2)
    assert fingerprint() is None


def test_a_conf_file_changed_while_composing_is_not_stored(tmp_path):
    """A conf file saved after the process began composing may have been read in its old
    form before the fingerprint (taken later) saw the new one: that composition must not be
    stored under the new fingerprint, where every later process would reuse it."""
    from sim.cli.compose_cache import MTIME_SLACK_NS, ComposeCache

    conf = tmp_path / "conf"
    shutil.copytree(CONF_DIR, conf)  # copy2: the files keep their old times
    old = os.stat(conf / "config.yaml").st_mtime_ns
    cache = ComposeCache(tmp_path / "cache")
    sources = (("file", str(conf), "main"),)
    fp = cache.fingerprint(sources)
    assert fp is not None and cache.unchanged()
    cache.save(("shape",), fp, defaults=1)
    assert cache.load(("shape",), fp)["defaults"] == 1  # an unchanged tree is stored
    os.utime(conf / "config.yaml", ns=(old, cache._started + MTIME_SLACK_NS))  # saved mid-run
    assert not cache.unchanged()
    cache.save(("other",), fp, defaults=2)
    assert cache.load(("other",), fp) is None  # not stored: recomposed next time


def test_a_cache_dir_others_can_write_is_not_read(tmp_path):
    """Entries are pickles: a dir another user could plant one in is a miss, never loaded."""
    from sim.cli.compose_cache import ComposeCache

    cache = ComposeCache(tmp_path / "cache")
    cache.save(("yaml", "x"), cache.versions(), guard=False, data=1)
    assert ComposeCache(tmp_path / "cache").load(("yaml", "x"), cache.versions())["data"] == 1
    os.chmod(tmp_path / "cache", 0o777)
    shared = ComposeCache(tmp_path / "cache")
    assert not shared.trusted()
    assert shared.load(("yaml", "x"), shared.versions()) is None
