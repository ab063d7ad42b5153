"""The teaching lab (experiments/lab): the notebook runs top to bottom, run.py refreshes the
results and a complete answer key, and the helpers report what the engine computed."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from sim.core.errors import ConfigError
from sim.outputs.results import ReplicationResult

LAB = Path(__file__).resolve().parent.parent / "experiments" / "lab"
sys.path.insert(0, str(LAB))

import labkit  # noqa: E402
import make_notebook  # noqa: E402

# one worker under pytest -n: the module fixtures (run.py --quick, the notebook) run once
pytestmark = pytest.mark.xdist_group("lab")

TRACES = ("coupang_2025", "coupang_2025_monitored", "busy_monday_1_analyst", "cautious_insider")


def test_the_notebook_is_generated_from_lab_py():
    assert (LAB / "lab.ipynb").read_text(encoding="utf-8") == make_notebook.render(
        (LAB / "lab.py").read_text(encoding="utf-8")), "run: python make_notebook.py"
    nb = nbformat.read(LAB / "lab.ipynb", as_version=4)
    nbformat.validate(nb)
    questions = re.findall(r"\*\*Q(\d+)\.\*\*", "".join(c.source for c in nb.cells))
    assert questions == [str(i) for i in range(1, 20)]


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
    assert len(images) == 5 and len(tables) == 10
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
    assert re.findall(r"\*\*Q(\d+)\.\*\*", key) == [str(i) for i in range(1, 20)]
    assert "**seed 0**" in key and "Smoke-sized run" in key
    assert "nan" not in key.lower().replace("analyst", "")  # every number was computed
    summary = json.loads((run_py / "summary.json").read_text())
    assert summary["seed"] == 0 and summary["replications"] == 8
    assert [o["label"] for o in summary["cadence"]] == ["interval=1mo", "interval=2w",
                                                       "interval=1w", "interval=1d"]
    assert set(summary["traces"]) == set(TRACES)
    assert [o["label"] for o in summary["adaptive"]] == ["naive (renewal)", "cautious",
                                                         "threshold prober"]
    # Part D: the crews' table is of crews (3 insiders, 1 alone), and a leavers' review stops
    # a crew of leavers in every replication (each key is revoked at the first review, which
    # comes within the year) but not the staff accomplices, whose keys it leaves alone
    lone, own, own0, shared = summary["crews"]
    assert lone["insiders"] == 1 and own["insiders"] == shared["insiders"] == 3
    _, rev, rev_crew, rev_staff = summary["leavers"]
    assert rev["all_stopped"] == rev_crew["all_stopped"] == 1
    assert rev_staff["all_stopped"] < 1
    # The audit samples lines: the insider lines it samples a month are coverage x the
    # insider's lines a month, whatever the cadence. Each estimate counts the sessions of 8
    # replications (a Poisson count S, relative sd 1/sqrt(S)); 3 sd of the worse of two
    # estimates bounds their ratio's error, so the test fails if cadence changed the effort.
    def lines(o):
        return o["insider_lines_sampled_a_month"]

    def tol(*outcomes):
        return 3 * math.sqrt(2) / math.sqrt(min(o["sessions"] * o["replications"]
                                               for o in outcomes))

    cadence = summary["cadence"]
    for o in cadence[1:]:
        assert lines(o) / lines(cadence[0]) == pytest.approx(1, abs=tol(o, cadence[0])), o
    cov = {o["label"]: o for o in summary["coverage"]}
    daily30, monthly30 = cov["interval=1d, coverage=0.304"], cov["coverage=0.304"]
    assert lines(daily30) / lines(monthly30) == pytest.approx(1, abs=tol(daily30, monthly30))
    assert lines(cov["coverage=1.0"]) / lines(cov["coverage=0.01"]) == pytest.approx(
        100, rel=tol(cov["coverage=1.0"], cov["coverage=0.01"]))
    # Part B stays cheap: false alarms per replication in the hundreds (low thousands at most)
    for o in summary["thresholds"] + summary["analysts"]:
        assert o["false_alerts"] < 3000, o["label"]


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


def test_the_answer_keys_comparisons_follow_the_numbers():
    """run.py words a comparison from the numbers: who is sooner, and whether by more than
    sampling noise (a paired bootstrap of the medians)."""
    import run as lab_run

    model = labkit.model_of(["scenario=default"])

    def outcome(dwells):
        return labkit.Outcome("x", (), model, [_result(r, d, True)
                                               for r, d in enumerate(dwells)])

    slow = outcome([100.0 + r for r in range(100)])
    fast = outcome([10.0 + r for r in range(100)])
    close = outcome([101.0 + r for r in range(100)][::-1])  # same spread, unpaired order
    sign, text = lab_run.gap_text(fast, slow, "fast", "slow")
    assert sign == 1 and "in favour of fast, beyond sampling noise" in text
    sign, text = lab_run.gap_text(slow, fast, "slow", "fast")
    assert sign == -1 and "in favour of fast, beyond" in text
    sign, text = lab_run.gap_text(close, slow, "close", "slow")
    assert sign == 0 and "within sampling noise" in text and "holds zero" in text
    # sizes that differ cannot be paired: a reason of their own
    sign, text = lab_run.gap_text(fast, outcome([100.0] * 99), "fast", "slow")
    assert sign == 0 and "different numbers of replications" in text
    # Q16: "stops detecting" only when the audit catches the cautious insider less often,
    # beyond sampling noise (two shares of 100: 30 against 5 is, 4 against 0 is not)
    def audited(share, records):
        return labkit.Outcome("a", (), model, [
            dataclasses.replace(_result(r, 10.0, r < share), records_exfiltrated=records)
            for r in range(100)])

    naive, prober = audited(30, 1000), audited(0, 1000)
    deterred_unseen = audited(5, 10)  # the cautious insider takes less and is caught less
    deterred_seen = audited(40, 10)   # takes less, but is caught more often
    text = lab_run._audit_vs_adaptive([naive, deterred_unseen, prober])
    assert "deters" in text and "stops detecting" in text
    text = lab_run._audit_vs_adaptive([naive, deterred_seen, prober])
    assert "deters" in text and "stops detecting" not in text
    text = lab_run._audit_vs_adaptive([audited(4, 1000), audited(0, 10), prober])
    assert "deters" in text and "stops detecting" not in text and "no clear difference" in text


def _censored_pair(censored_a):
    """100 paired replications: ``a`` detects within days but ``censored_a`` of them never
    (censored at the horizon), ``b`` always detects, weeks later."""
    horizon = 8766.0
    dwell_a = [10.0 + r for r in range(100 - censored_a)] + [horizon] * censored_a
    dwell_b = [1099.0 - r for r in range(100)]  # paired against the order of a
    return (dwell_a, [d == horizon for d in dwell_a], dwell_b, [False] * 100)


def test_the_bootstrap_keeps_the_resamples_whose_median_is_beyond_the_horizon():
    """With 41 of 100 replications of ``a`` censored, a resample has half or more censored
    (a's median beyond the horizon, the gap -inf) with chance P(Binomial(100, 0.41) >= 50)
    = 4%: more than the 2.5% tail, so the interval is unbounded below and the gap, however
    large, is not beyond sampling noise. (The old code dropped those resamples and printed
    a finite interval above zero.)"""
    import run as lab_run

    gap, lo, hi = lab_run.paired_median_gap(*_censored_pair(41))
    assert gap > 900 and lo == -math.inf and 900 < hi < 1100
    model = labkit.model_of(["scenario=default"])

    def outcome(dwell, censored):
        return labkit.Outcome("x", (), model, [
            _result(r, d, not c) for r, (d, c) in enumerate(zip(dwell, censored, strict=True))])

    dwell_a, cens_a, dwell_b, cens_b = _censored_pair(41)
    sign, text = lab_run.gap_text(outcome(dwell_a, cens_a), outcome(dwell_b, cens_b),
                                  "a", "b")
    assert sign == 0 and "within sampling noise" in text and "unbounded to" in text
    # 20 censored: a resample reaches 50 with chance ~1e-10, the interval is finite, and it
    # is the 2.5% and 97.5% quantiles of all the draws
    gap, lo, hi = lab_run.paired_median_gap(*_censored_pair(20))
    assert 0 < lo <= gap <= hi < math.inf and lo < hi
    # the other side: b's median beyond the horizon makes the upper bound +inf
    dwell_a, cens_a, dwell_b, cens_b = _censored_pair(41)
    gap, lo, hi = lab_run.paired_median_gap(dwell_b, cens_b, dwell_a, cens_a)
    assert gap < -900 and lo > -1100 and hi == math.inf
    with pytest.raises(ValueError, match="same replications"):
        lab_run.paired_median_gap([1.0], [False], [1.0, 2.0], [False, False])


def test_a_bad_override_is_one_line():
    with pytest.raises(ConfigError, match=r"^overrides: .*nonsense") as err:
        labkit.config(["scenario=default", "detectors.audit.nonsense=3"])
    assert "\n" not in str(err.value)


def test_run_matches_the_command_lines_rows():
    """A lab setting is the CLI's job: replication r of seed s is the same row."""
    from sim.core.engine import build_model, simulate
    from tests.test_configs import compose_plain

    outcome = labkit.run(["scenario=default", "detectors.audit.interval=1w"], 3, seed=4)
    model = build_model(compose_plain(["scenario=default", "detectors.audit.interval=1w"]))
    assert outcome.results == [simulate(model, 4, r) for r in range(3)]


# ------------------------------------------------------------------------------- the lab's laws

LAWS_N = 400  # replications per setting: ~2 s each on the new model


def _share(o, detector):
    return sum(r.detected_by == detector for r in o.results) / o.n


@pytest.mark.slow
def test_auditing_more_often_at_the_same_coverage_only_shortens_the_lag():
    """Q5: at the same share of lines, a daily audit catches as often as a monthly one."""
    base = ["scenario=coupang_2025"]
    monthly = labkit.run(base, LAWS_N, seed=1)
    daily = labkit.run([*base, "detectors.audit.interval=1d"], LAWS_N, seed=1)
    a, b = _share(monthly, "audit"), _share(daily, "audit")
    # The audit ends ~4% of the breaches. The difference of two shares of n replications has
    # sd sqrt(2 p (1 - p) / n) = 0.014 at p = 0.04, n = 400 (as if independent; common random
    # numbers only shrink it); 3 sd = 0.04. Under the old model (a daily audit re-drew the
    # whole chance every day) daily audits ended far more, far outside.
    p = (a + b) / 2
    assert abs(a - b) < 3 * math.sqrt(2 * p * (1 - p) / LAWS_N), (a, b)


@pytest.mark.slow
def test_effort_per_month_decides_and_cadence_then_buys_time():
    """Q6: more lines sampled a month catch sooner; at equal lines, a daily audit catches
    sooner, by about the half-month lag it cuts, at 30.4% and at full coverage."""
    base = ["scenario=coupang_2025"]
    m10 = labkit.run([*base, "detectors.audit.coverage=0.1"], LAWS_N, seed=1)
    m30 = labkit.run([*base, "detectors.audit.coverage=0.304"], LAWS_N, seed=1)
    m100 = labkit.run([*base, "detectors.audit.coverage=1.0"], LAWS_N, seed=1)
    d30 = labkit.run([*base, "detectors.audit.interval=1d", "detectors.audit.coverage=0.304"],
                     LAWS_N, seed=1)
    d100 = labkit.run([*base, "detectors.audit.interval=1d", "detectors.audit.coverage=1.0"],
                      LAWS_N, seed=1)
    # At 200 replications (seeds 0 and 1) the medians are ~91-93, ~53-57, ~29-32 and ~14-16
    # days: a factor 1.6 or more apart (at seed 1, 400 replications: 91, 54, 31, 15). The
    # median of n = 400 roughly exponential dwells has a relative sd of about 1.44/sqrt(n) =
    # 7%, so a 1.3 factor is more than 3 sd of each.
    assert m30.median_dwell() * 1.3 < m10.median_dwell()
    assert m100.median_dwell() * 1.3 < m30.median_dwell()
    assert d100.median_dwell() * 1.5 < m100.median_dwell()
    # At 30.4% a daily audit cuts the lag after the first recognisable line from half a
    # month to half a day: (30.4 - 1) / 2 = 14.7 d expected. At 200 replications the gain
    # is -1.3 d [-14.4, 12.3] at seed 0 (an outlier) and 18.6 d [7.2, 27.4] at seed 1; over
    # seeds 0-51 its mean is 17.8 d with sd 6.5 d between seeds, so at 400 replications
    # sd ~ 6.5 / sqrt(2) = 4.6 d (by the median's own sd: 7% of ~54 d = 3.9 d each, at most
    # sqrt(2) x 3.9 = 5.5 d for the difference; the shared draws shrink it). Seed 1 at 400:
    # 12.7 d. The tolerance is the whole expected gain: "daily is sooner" fails only if the
    # gain falls 3.2 sd below 14.7 d (3.9 below the 17.8 d seen), i.e. if cadence stopped
    # cutting the lag.
    gain = m30.median_dwell() - d30.median_dwell()
    assert gain > 0, gain / 24


@pytest.mark.slow
def test_threshold_and_team_size_go_together():
    """Q11-Q13: threshold 4 floods two analysts, not five; threshold 5 does not flood two."""
    busy = ["scenario=coupang_2025_monitored", "start=2025-06-23T09:00:00+09:00",
            "++insider.first_session_at_start=false"]
    n = 200

    def within_day(*extra):
        o = labkit.run([*busy, *extra], n, seed=1)
        assert o.mean("false_alerts") < 3000  # the lab stays cheap
        return o.share_within(24.0)

    # Flooded, the insider's alert waits ~a day and is found after ~39 h (0% within 24 h at
    # seed 0); kept up, ~98% within 24 h. A share of 200 has sd <= 0.035, so 0.3 and 0.7
    # are > 8 sd from the values seen.
    assert within_day("detectors.monitoring.threshold=4.0", "triage.analysts=2") < 0.3
    assert within_day("detectors.monitoring.threshold=4.0", "triage.analysts=5") > 0.7
    assert within_day("detectors.monitoring.threshold=5.0", "triage.analysts=2") > 0.7
