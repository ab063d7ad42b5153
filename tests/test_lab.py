"""The teaching lab (experiments/lab): the notebook runs top to bottom, run.py refreshes the
results and a complete answer key, and the helpers report what the engine computed."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from sim.errors import ConfigError
from sim.results import ReplicationResult

LAB = Path(__file__).resolve().parent.parent / "experiments" / "lab"
sys.path.insert(0, str(LAB))

import labkit  # noqa: E402
import make_notebook  # noqa: E402

TRACES = ("coupang_2025", "coupang_2025_monitored", "busy_monday_1_analyst")


def test_the_notebook_is_generated_from_lab_py():
    assert (LAB / "lab.ipynb").read_text(encoding="utf-8") == make_notebook.render(
        (LAB / "lab.py").read_text(encoding="utf-8")), "run: python make_notebook.py"
    nb = nbformat.read(LAB / "lab.ipynb", as_version=4)
    nbformat.validate(nb)
    questions = re.findall(r"\*\*Q(\d+)\.\*\*", "".join(c.source for c in nb.cells))
    assert questions == [str(i) for i in range(1, 15)]


def test_make_notebook_rejects_code_in_a_markdown_cell():
    with pytest.raises(ValueError, match="markdown line is not a comment"):
        make_notebook.cells("# %% [markdown]\n# fine\nx = 1\n")


@pytest.fixture(scope="module")
def notebook_run(tmp_path_factory):
    """The notebook executed by a real kernel at smoke size (LAB_QUICK=1)."""
    out = tmp_path_factory.mktemp("notebook")
    nb = nbformat.read(LAB / "lab.ipynb", as_version=4)
    with pytest.MonkeyPatch.context() as mp:  # the kernel inherits the environment
        for key, value in {"LAB_QUICK": "1", "LAB_OUT": str(out), "LAB_SEED": "0"}.items():
            mp.setenv(key, value)
        NotebookClient(nb, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(LAB)}}).execute()
    return nb, out


@pytest.fixture(scope="module")
def run_py(tmp_path_factory):
    """run.py --quick with its answer key, in a fresh interpreter."""
    from tests.conftest import committed_results

    out = tmp_path_factory.mktemp("runpy")
    before = committed_results("lab")
    proc = subprocess.run([sys.executable, "run.py", "--quick", "--out", str(out),
                           "--answer-key", str(out / "KEY.md")], cwd=LAB, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert committed_results("lab") == before
    return out


@pytest.mark.slow
def test_the_notebook_runs_top_to_bottom(notebook_run):
    nb, out = notebook_run
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    tables = [o.data["text/markdown"] for o in outputs if "text/markdown" in o.get("data", {})]
    assert len(images) == 4 and len(tables) == 7
    assert all("median time to detection" in t for t in tables)
    for name in TRACES:
        for file in ("events.jsonl", "timeline.png", "network.png"):
            assert (out / name / file).stat().st_size > 1000, (name, file)
    text = "".join(o.get("text", "") for o in outputs)
    assert "8 replications per setting, seed 0" in text
    assert "coupang_2025_monitored: replication 0, seed 0" in text


@pytest.mark.slow
def test_run_py_writes_results_and_an_answer_to_every_question(run_py):
    key = (run_py / "KEY.md").read_text()
    assert re.findall(r"\*\*Q(\d+)\.\*\*", key) == [str(i) for i in range(1, 15)]
    assert "**seed 0**" in key and "Smoke-sized run" in key
    assert "nan" not in key.lower().replace("analyst", "")  # every number was computed
    summary = json.loads((run_py / "summary.json").read_text())
    assert summary["seed"] == 0 and summary["replications"] == 8
    assert [o["label"] for o in summary["cadence"]] == ["interval=1mo", "interval=2w",
                                                       "interval=1w", "interval=1d"]
    assert set(summary["traces"]) == set(TRACES)
    # daily audits catch the insider sooner than monthly ones (8 replications each: a
    # median of months against days is far apart, whatever the draws)
    monthly, daily = summary["cadence"][0], summary["cadence"][-1]
    assert daily["median_dwell_hours"] < (monthly["median_dwell_hours"] or math.inf) / 3


@pytest.mark.slow
def test_the_notebook_and_run_py_give_identical_results(notebook_run, run_py):
    _, out = notebook_run
    for name in TRACES:
        assert (out / name / "events.jsonl").read_bytes() == \
            (run_py / name / "events.jsonl").read_bytes(), name


# ------------------------------------------------------------------------------------ labkit

def _result(r: int, dwell: float, detected: bool, by: str = "audit") -> ReplicationResult:
    return ReplicationResult(
        replication=r, seed=0, detected=detected, censored=not detected,
        detected_by=by if detected else "", dwell_hours=dwell, records_exfiltrated=100 * r,
        true_alerts=0, false_alerts=r, alerts_dropped=0, access_ended_by="exhausted",
        access_hours=dwell, sessions=1, mean_triage_wait_hours=math.nan,
        analyst_utilisation=math.nan)


def test_outcome_medians_respect_censoring():
    model = labkit.model_of(["scenario=default"])
    horizon = model.run.horizon
    three = labkit.Outcome("x", (), model, [_result(0, 10.0, True), _result(1, 30.0, True),
                                            _result(2, horizon, False)])
    assert three.median_dwell() == 30.0  # 1 of 3 censored: the plain median
    assert three.share_within(24.0) == pytest.approx(1 / 3)
    assert three.caught_by() == {"audit": pytest.approx(2 / 3), "none": pytest.approx(1 / 3)}
    half = labkit.Outcome("y", (), model, [_result(0, 10.0, True), _result(1, horizon, False)])
    assert half.median_dwell() == math.inf
    text = str(labkit.table([three, half]))
    assert "> 1.0 y" in text and "30.0 h" in text
    assert labkit.table([three]).markdown().startswith("| setting | median time to detection")


def test_a_bad_override_is_one_line():
    with pytest.raises(ConfigError, match=r"^overrides: .*nonsense") as err:
        labkit.config(["scenario=default", "detectors.audit.nonsense=3"])
    assert "\n" not in str(err.value)


def test_run_matches_the_command_lines_rows():
    """A lab setting is the CLI's job: replication r of seed s is the same row."""
    from sim.engine import build_model, simulate
    from tests.test_configs import compose_plain

    outcome = labkit.run(["scenario=default", "detectors.audit.interval=1w"], 3, seed=4)
    model = build_model(compose_plain(["scenario=default", "detectors.audit.interval=1w"]))
    assert outcome.results == [simulate(model, 4, r) for r in range(3)]
