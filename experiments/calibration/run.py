"""Calibrate the Coupang scenario against the case (ABC-SMC), with a held-out check.

Runs ``python -m sim.calibrate conf/calibration/coupang_2025.yaml`` (module
:mod:`sim.analysis.calibration`, pyabc) into ``results/``: fitted on every target, then on
every target but ``held_out``, whose value is then predicted.

    python experiments/calibration/run.py --fresh    # full fit (one worker: reproducible)
    python experiments/calibration/run.py --quick    # smoke-sized, into scratch/

Writes ``posterior.csv``, ``pairs.png``, ``predictive.png``, ``held_out.png``,
``calibration.json`` and pyabc's ``calibration.db`` (the same command continues a stopped fit;
``--fresh`` starts over). Needs the ``evidence`` extra (``pip install -e '.[evidence]'``).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from sim.analysis.calibration import experiment  # noqa: E402

STUDY = ROOT / "conf" / "calibration" / "coupang_2025.yaml"


def main(argv: list[str] | None = None) -> int:
    return experiment(STUDY, HERE, __doc__.split("\n")[0], argv)[0]


if __name__ == "__main__":
    raise SystemExit(main())
