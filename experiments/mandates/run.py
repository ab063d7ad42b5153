"""Which mandate buys what? The same firm and insiders under each regime and candidate mandate.

Every arm runs the scenario ``coupang_2025`` with the firm ``coupang_2025`` and the same seed, so
each arm faces the same insiders (common random numbers); the arms differ only in the regime
(the controls it mandates and how it prices the outcome) or in a candidate mandate added to
Korea's 2023 rule. Each arm goes through the policy layer exactly as ``python -m sim`` would
(:class:`sim.policy.model.PolicyLayer`: mandates applied to the plain config, the model built and
simulated, each replication priced into ``replications.csv``, the policy summary beside the
run's), in-process and one arm after another, deterministic for its seed.

    python experiments/mandates/run.py            # 1000 replications per arm (~15 s)
    python experiments/mandates/run.py --quick    # 40 per arm (the tests run this)

Writes into ``results/`` (``--quick``: ``scratch/``, git-ignored; or ``--out``): ``mandates.csv``
(one row per arm), ``report.html`` (self-contained, opens offline), ``report.md`` and the four
figures it embeds. ``--runs DIR`` keeps each arm's run dir (``replications.csv`` with the cost
columns, ``summary.json``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sim.cli.app import CONF_DIR, plain_config, split_app_options  # noqa: E402
from sim.core.runner import iter_replications  # noqa: E402
from sim.outputs import results  # noqa: E402
from sim.policy import model as policy  # noqa: E402
from sim.policy import report as policy_report  # noqa: E402

SCENARIO = "coupang_2025"
FIRM = "coupang_2025"
SEED = 0


@dataclass(frozen=True)
class Arm:
    """One arm: a regime, optionally with a candidate mandate (regime overrides)."""

    key: str
    label: str
    kind: str            # baseline, regime or mandate
    regime: str
    overrides: tuple[str, ...] = ()


def _candidate(key: str, label: str, *overrides: str) -> Arm:
    return Arm(key, label, "mandate", "kr_pipa_2023", tuple(overrides))


ARMS: tuple[Arm, ...] = (
    Arm("none", "No regime (Coupang's own controls)", "baseline", "none"),
    Arm("kr_pipa_2023", "Korea PIPA 2023: monthly review (today)", "regime", "kr_pipa_2023"),
    Arm("kr_pipa_2026", "Korea PIPA 2026: up to 10% of revenue", "regime", "kr_pipa_2026"),
    Arm("gdpr", "GDPR", "regime", "gdpr"),
    Arm("nis2", "NIS2 (important entity: online marketplace)", "regime", "nis2"),
    Arm("sec_8k", "US SEC 8-K", "regime", "sec_8k"),
    # PCI DSS itself does not apply here (the stolen store holds no card data; the regime says
    # so and mandates nothing): its log-review rule is tried as a candidate mandate instead.
    _candidate("pci_dss_4", "PIPA 2023 + PCI DSS-style daily automated review",
               "regime.mandates.max_audit_interval=1d", "regime.mandates.require_monitoring=true",
               "regime.mandates.why.audit='candidate: daily log review, as PCI DSS 4.0.1 "
               "Req. 10.4.1'",
               "regime.mandates.why.monitoring='candidate: automated log review, as PCI DSS "
               "4.0.1 Req. 10.4.1.1'"),
    _candidate("weekly_review", "PIPA 2023 + weekly log review",
               "regime.mandates.max_audit_interval=1w",
               "regime.mandates.why.audit='candidate: weekly access-log review'"),
    _candidate("monitoring_3", "PIPA 2023 + monitoring, 3 analysts 24x7",
               "regime.mandates.require_monitoring=true", "regime.mandates.min_analysts=3",
               "regime.mandates.require_24x7=true",
               "regime.mandates.why.monitoring='candidate: continuous automated review'",
               "regime.mandates.why.analysts='candidate: 3 analysts on shift 24x7'"),
    _candidate("monitoring_5", "PIPA 2023 + monitoring, 5 analysts 24x7",
               "regime.mandates.require_monitoring=true", "regime.mandates.min_analysts=5",
               "regime.mandates.require_24x7=true",
               "regime.mandates.why.monitoring='candidate: continuous automated review'",
               "regime.mandates.why.analysts='candidate: 5 analysts on shift 24x7'"),
    _candidate("key_90d", "PIPA 2023 + keys rotated within 90 days",
               "regime.mandates.max_credential_age=90d",
               "regime.mandates.why.credentials='candidate: maximum key lifetime 90 days'"),
    _candidate("monitoring_5_key_90d", "PIPA 2023 + monitoring (5) + 90-day keys",
               "regime.mandates.require_monitoring=true", "regime.mandates.min_analysts=5",
               "regime.mandates.require_24x7=true", "regime.mandates.max_credential_age=90d",
               "regime.mandates.why.monitoring='candidate: continuous automated review'",
               "regime.mandates.why.analysts='candidate: 5 analysts on shift 24x7'",
               "regime.mandates.why.credentials='candidate: maximum key lifetime 90 days'"),
)


def group_override(group: str, option: str) -> str:
    """``group=option``, or ``+group=option`` while conf/config.yaml has no default for it."""
    from omegaconf import OmegaConf

    defaults = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "config.yaml")).get(
        "defaults") or []
    listed = any(isinstance(d, dict) and group in d for d in defaults)
    return f"{group}={option}" if listed else f"+{group}={option}"


def config(arm: Arm, replications: int, seed: int) -> tuple[dict, policy.PolicyLayer]:
    """The plain model config of one arm, composed by Hydra as ``python -m sim`` would, and
    its policy layer (built before the app's own keys are split off, whichever they are)."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=[
            f"scenario={SCENARIO}", group_override("regime", arm.regime),
            group_override("firm", FIRM), f"seed={seed}", f"replications={replications}",
            *arm.overrides])
    plain = plain_config(cfg)
    layer = policy.PolicyLayer.from_config(plain)
    assert layer is not None, "every arm has a firm"
    split_app_options(plain)
    return plain, layer


def run_arm(arm: Arm, replications: int, seed: int, run_dir: Path, workers: int) -> dict:
    """Simulate and price one arm into ``run_dir``; return its row of the table."""
    cfg, layer = config(arm, replications, seed)
    cfg, model = layer.build(cfg)  # mandates applied where the regime applies
    with results.ResultWriter(run_dir, overwrite=True, extra_columns=layer.columns) as writer:
        for result in iter_replications(cfg, model, workers):
            writer.write(result, extra=layer.price(result, model))
    rows, extra = results.read_table(run_dir / results.REPLICATIONS_CSV)
    summary = results.summarize(rows, model.run.horizon)
    summary["scenario"] = SCENARIO
    summary["seed"] = seed
    summary["policy"] = layer.summarize(extra, rows, model)
    results.write_json_atomic(run_dir / results.SUMMARY_JSON, summary)
    return policy_report.row_from_summary(summary, arm=arm.key, label=arm.label, kind=arm.kind)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke-sized run (40 per arm)")
    parser.add_argument("--replications", type=int, default=None)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None,
                        help="where to write (default results/; with --quick scratch/, "
                             "git-ignored, so a smoke run never replaces the committed results)")
    parser.add_argument("--runs", type=Path, default=None,
                        help="keep each arm's run dir here (default: a temporary dir)")
    args = parser.parse_args(argv)
    if args.out is None:
        args.out = Path(__file__).parent / ("scratch" if args.quick else "results")
    n = args.replications or (40 if args.quick else 1000)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        runs = args.runs or Path(tmp)
        for i, arm in enumerate(ARMS, 1):
            t = time.perf_counter()
            rows.append(run_arm(arm, n, args.seed, runs / arm.key, args.workers))
            print(f"[{i}/{len(ARMS)}] {arm.key}: {n} replications in "
                  f"{time.perf_counter() - t:.1f} s", flush=True)
    written = policy_report.render(rows, args.out, title="Which mandate buys what? The Coupang "
                                   "insider under each regime and candidate mandate")
    for sentence in policy_report.reading(rows):
        print(f"- {sentence}")
    print(f"wrote {', '.join(str(p) for p in written.values())} "
          f"({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
