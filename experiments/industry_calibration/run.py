"""Calibrate a generic-firm population to the industry figures (ABC-SMC), with a held-out check.

Runs ``python -m sim.calibrate conf/calibration/generic_firm.yaml`` (module
:mod:`sim.analysis.calibration`, pyabc; the population of :mod:`sim.analysis.population`)
into ``results/``: fitted on Mandiant's insider-like median, the share found internally and
Ponemon's time to contain, then without IBM's time to identify and contain, which is then
predicted; Mandiant's all-intrusion medians (internal, external) are shown as checks.

    nice python experiments/industry_calibration/run.py --workers 2   # full fit (~20-30 min)
    python experiments/industry_calibration/run.py --quick            # smoke-sized, into scratch/

Writes ``posterior.csv``, ``pairs.png``, ``predictive.png``, ``held_out.png``,
``calibration.json`` and pyabc's ``calibration.db`` (the same command continues a stopped fit;
``--fresh`` starts over). Needs the ``evidence`` extra (``pip install -e '.[evidence]'``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from sim.analysis.calibration import main as calibrate  # noqa: E402

STUDY = ROOT / "conf" / "calibration" / "generic_firm.yaml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke-sized run")
    parser.add_argument("--out", type=Path, help="where to write (default results/; with "
                        "--quick scratch/, git-ignored)")
    parser.add_argument("--fresh", action="store_true", help="start the fit afresh")
    parser.add_argument("--workers", default="1", help="processes (default 1)")
    args = parser.parse_args(argv)
    out = args.out or HERE / ("scratch" if args.quick else "results")
    return calibrate([str(STUDY), "--out", str(out), "--workers", str(args.workers),
                      *(["--quick"] if args.quick else []),
                      *(["--fresh"] if args.fresh or args.quick else [])])


if __name__ == "__main__":
    raise SystemExit(main())
