"""Calibrate a generic-firm population to the industry figures (ABC-SMC), with a held-out check.

Runs ``python -m sim.calibrate conf/calibration/generic_firm.yaml`` (module
:mod:`sim.analysis.calibration`, pyabc; the population of :mod:`sim.analysis.population`)
into ``results/``: fitted on Mandiant's insider-like median, the share found internally and
Ponemon's time to contain, then without IBM's time to identify and contain, which is then
predicted; Mandiant's all-intrusion medians (internal, external) are shown as checks.

    nice python experiments/industry_calibration/run.py --fresh   # full fit (~17 min; reproducible)
    python experiments/industry_calibration/run.py --quick        # smoke-sized, into scratch/

Writes ``posterior.csv``, ``pairs.png``, ``predictive.png``, ``held_out.png``,
``calibration.json`` and pyabc's ``calibration.db`` (the same command continues a stopped fit;
``--fresh`` starts over), then ``components.csv``: every output of each component (firm x
insider) and of the pooled population, at the posterior medians, from one large batch
(``BREAKDOWN`` replications; 200 with --quick). Needs the ``evidence`` extra
(``pip install -e '.[evidence]'``).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from sim.analysis.calibration import experiment  # noqa: E402

STUDY = ROOT / "conf" / "calibration" / "generic_firm.yaml"
BREAKDOWN = 4000  # replications of the breakdown batch (split over the components by weight)
COLUMNS = ("median_dwell_detected_days", "share_found_internally", "median_dwell_internal_days",
           "median_dwell_external_days", "mean_time_to_contain_days",
           "mean_time_to_identify_contain_days", "share_undetected", "median_records")


def breakdown(out: Path, replications: int) -> Path:
    """``components.csv``: each component's outputs and the pooled ones, at the posterior
    medians (one batch of ``replications``, the study's seed)."""
    from sim.analysis.calibration import parse_study
    from sim.analysis.study import OUTPUTS
    from sim.outputs.report import write_csv

    record = json.loads((out / "calibration.json").read_text())
    study = parse_study(STUDY)
    pop = study.build_scenario()
    values = {k: p["median"] for k, p in record["posterior"].items()}
    parts = pop.simulate_components(values, seed=study.seed, replications=replications)
    shares = pop.shares(values)
    pooled = [r for _name, rows in parts for r in rows]
    rows = []
    for (name, results), share in [*zip(parts, shares, strict=True), (("all", pooled), 1.0)]:
        row: dict[str, object] = {"component": name, "weight": float(share),
                                  "replications": len(results)}
        for col in COLUMNS:
            row[col] = OUTPUTS[col][0](results, pop.horizon) if results else math.nan
        rows.append(row)
    write_csv(rows, out / "components.csv")
    return out / "components.csv"


def main(argv: list[str] | None = None) -> int:
    code, out, quick = experiment(STUDY, HERE, __doc__.split("\n")[0], argv)
    if code == 0:
        print(f"components: {breakdown(out, 200 if quick else BREAKDOWN)}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
