"""Calibrate the Coupang scenario against the case (ABC-SMC), with a held-out check.

Runs ``python -m sim.calibrate conf/calibration/coupang_2025.yaml`` (module
:mod:`sim.analysis.calibration`, pyabc) into ``results/``: fitted on every target, then on
every target but ``held_out``, whose value is then predicted.

    nice python experiments/calibration/run.py            # full fit (~25 min on 2 busy cores)
    python experiments/calibration/run.py --quick         # smoke-sized, into scratch/

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

STUDY = ROOT / "conf" / "calibration" / "coupang_2025.yaml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke-sized run")
    parser.add_argument("--out", type=Path, help="where to write (default results/; with "
                        "--quick scratch/, git-ignored)")
    parser.add_argument("--fresh", action="store_true", help="start the fit afresh")
    args = parser.parse_args(argv)
    out = args.out or HERE / ("scratch" if args.quick else "results")
    return calibrate([str(STUDY), "--out", str(out), *(["--quick"] if args.quick else []),
                      *(["--fresh"] if args.fresh or args.quick else [])])


if __name__ == "__main__":
    raise SystemExit(main())
