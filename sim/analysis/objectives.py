"""What a job returns to an optimising sweeper: its objective value(s).

``python -m sim -m hydra/sweeper=optuna optimise=NAME ...`` (``conf/optimise/``) or any config
with an ``optimise`` node::

    optimise:
      objective: control_cost_usd          # a name, or a list of names (several objectives)
      limits: {p_dwell_over_7d: 0.05}      # optional: outputs that must stay at or below these
      penalty: 1.0e8                       # added per unit of an output above its limit

Each name is one of :data:`OBJECTIVES`: every output of :data:`sim.analysis.study.OUTPUTS`
(measured on the job's ``replications.csv``), ``control_cost_usd``, the yearly cost of the
job's controls as the policy layer prices them (:func:`sim.policy.model.control_costs`; it needs
a firm: ``firm=coupang_2025``), and ``offered_load``, what the benign alerts ask of the analyst
team (:func:`sim.controls.triage.offered_load`: above 1 the queue grows without bound and only
the alert age limit holds it back). Every objective is minimised, and each can be a limit:
``limits: {offered_load: 1.0}`` asks for a team that keeps up - the cost model prices analyst
seats, not their workload, so without it an overloaded team of one looks cheap.

Optuna's Hydra sweeper tells a study only the values a job returns, so a limit becomes a
penalty: the single objective plus ``penalty x`` the excess of each limited output over its
limit (``limits`` takes one objective). The penalty must be large enough that no saving is worth
a violation: a penalty of 1e8 USD per unit of probability costs 1M USD per percentage point.
In-process studies (experiments/control_budget/) can hand the limits to a sampler that knows
constraints instead (:meth:`Objective.violations`).

:func:`pop_objective` reads and checks the node (a one-line
:class:`~sim.core.errors.ConfigError` naming the key for anything wrong) and removes it from
the config before the job runs, so the job's rows and hash do not depend on what is optimised;
:meth:`Objective.of_job` computes the value(s) from the finished job's directory.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.analysis.study import OUTPUTS, _hint
from sim.core.errors import ConfigError
from sim.outputs.results import ReplicationResult

#: name -> (what it measures, unit). Every objective is minimised.
OBJECTIVES: dict[str, tuple[str, str]] = {
    **{name: (what, unit) for name, (_fn, what, unit) in OUTPUTS.items()},
    "control_cost_usd": ("yearly cost of the controls (policy layer, the firm's unit costs)",
                         "USD a year"),
    "offered_load": ("analyst team's offered load: benign work asked per analyst on shift "
                     "(above 1 the queue grows without bound)", "ratio"),
}
#: objectives read from the policy layer's prices (they need a firm)
PRICED = ("control_cost_usd",)
#: objectives of the model rather than of its replications (computed once per job)
MODEL = ("offered_load",)
KEYS = ("objective", "limits", "penalty")


@dataclass(frozen=True)
class Objective:
    """A checked ``optimise`` node (see the module docstring).

    Attributes:
        names: the objectives, in the order returned.
        limits: output name -> the most it may be (a constraint).
        penalty: added to the single objective per unit of excess over a limit.
    """

    names: tuple[str, ...]
    limits: Mapping[str, float] = field(default_factory=dict)
    penalty: float = 0.0

    def measure(self, results: Sequence[ReplicationResult], horizon: float,
                control_cost_usd: float | None = None,
                offered_load: float | None = None) -> dict[str, float]:
        """Every objective and limited output of a batch of replications, by name.

        Args:
            results: the replications.
            horizon: their horizon in hours.
            control_cost_usd: the controls' yearly cost (needed when an objective is priced).
            offered_load: the analyst team's offered load (needed when it is named).
        """
        out: dict[str, float] = {}
        for name in (*self.names, *self.limits):
            if name in PRICED:
                if control_cost_usd is None:
                    raise ConfigError("optimise.objective", f"{name} needs the policy layer's "
                                                            "prices: add firm=NAME")
                out[name] = float(control_cost_usd)
            elif name == "offered_load":
                if offered_load is None:
                    raise ValueError("offered_load is named but was not given")
                out[name] = float(offered_load)
            else:
                out[name] = float(OUTPUTS[name][0](results, horizon))
        return out

    def violations(self, measured: Mapping[str, float]) -> list[float]:
        """Each limit's excess, ``output - limit`` (<= 0: met), in the order of ``limits``
        (Optuna's ``constraints_func`` convention)."""
        return [measured[name] - lim for name, lim in self.limits.items()]

    def value(self, measured: Mapping[str, float]) -> float | tuple[float, ...]:
        """What the task function returns: a float for one objective (penalised when a limit
        is exceeded), a tuple for several.

        An output a batch leaves undefined (NaN: say, the median dwell of breaches found
        internally when none was) cannot show that its limit holds: the value is then
        infinite, never a limit met by default. An undefined objective stays NaN, which the
        sweeper records as a failed trial.
        """
        if len(self.names) > 1:
            return tuple(measured[n] for n in self.names)
        excess = sum(math.inf if math.isnan(v) else max(0.0, v)
                     for v in self.violations(measured))
        return measured[self.names[0]] + self.penalty * excess

    def of_job(self, run_dir: str | Path, summary: Mapping[str, Any]
               ) -> float | tuple[float, ...]:
        """The value of a finished job from its ``replications.csv`` and ``summary``."""
        from sim.outputs.results import read_table

        results, _extra = read_table(Path(run_dir) / "replications.csv")
        controls = (summary.get("policy") or {}).get("controls") or {}
        horizon = float(summary.get("horizon_hours") or math.nan)
        return self.value(self.measure(results, horizon, controls.get("total_usd"),
                                       job_offered_load(summary, results)))


def job_offered_load(summary: Mapping[str, Any], results: Sequence[ReplicationResult]
                     ) -> float:
    """A finished job's offered load: its summary's ``triage`` block
    (:func:`sim.controls.triage.team_summary`); a job without analysts has none, and then
    the load is infinite if any benign alert was raised (nobody reviews them) and 0 if none
    was - the insider's own alerts are not the benign work the load measures."""
    team = summary.get("triage")
    if team:
        return float(team["offered_load"])
    return math.inf if any(r.false_alerts > 0 for r in results) else 0.0


def _names(value: Any, key: str) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, Sequence) or isinstance(names, str) or not names:
        raise ConfigError(key, f"must be an objective or a list of them from "
                               f"{', '.join(OBJECTIVES)}, got {value!r}")
    for name in names:
        if name not in OBJECTIVES:
            raise ConfigError(key, f"unknown objective {name!r}{_hint(name, OBJECTIVES)}; "
                                   f"allowed: {', '.join(OBJECTIVES)}")
    if len(set(names)) != len(names):
        raise ConfigError(key, f"names an objective twice: {list(names)!r}")
    return tuple(str(n) for n in names)


def parse_objective(node: Any, has_firm: bool = True) -> Objective:
    """Check an ``optimise`` node (see the module docstring).

    Args:
        node: the node.
        has_firm: the job has a policy layer (a firm or a regime), so priced objectives can
            be computed.

    Raises:
        ConfigError: an unknown key or objective, a bad limit or penalty, limits with several
            objectives, or a priced objective without a firm.
    """
    if not isinstance(node, Mapping):
        raise ConfigError("optimise", f"must be a mapping with keys {', '.join(KEYS)}, "
                                      f"got {node!r}")
    for k in node:
        if k not in KEYS:
            raise ConfigError(f"optimise.{k}", f"unknown key{_hint(k, KEYS)}; allowed: "
                                               f"{', '.join(KEYS)}")
    if node.get("objective") is None:
        raise ConfigError("optimise.objective", f"is required: one of {', '.join(OBJECTIVES)}")
    names = _names(node["objective"], "optimise.objective")
    limits_node = node.get("limits") or {}
    if not isinstance(limits_node, Mapping):
        raise ConfigError("optimise.limits", "must be a mapping of output -> the most it may be")
    limits: dict[str, float] = {}
    for name, lim in limits_node.items():
        at = f"optimise.limits.{name}"
        if name not in OUTPUTS and name not in MODEL:
            allowed = (*OUTPUTS, *MODEL)
            raise ConfigError(at, f"unknown output{_hint(name, allowed)}; allowed: "
                                  f"{', '.join(allowed)}")
        if isinstance(lim, bool) or not isinstance(lim, (int, float)) or not math.isfinite(lim):
            raise ConfigError(at, f"must be a finite number, got {lim!r}")
        limits[str(name)] = float(lim)
    penalty = node.get("penalty", 0.0)
    if isinstance(penalty, bool) or not isinstance(penalty, (int, float)) or not (
            math.isfinite(penalty) and penalty >= 0):
        raise ConfigError("optimise.penalty", f"must be a number >= 0, got {penalty!r}")
    if limits and len(names) > 1:
        raise ConfigError("optimise.limits", "take a single objective (the sweeper is told "
                                             "values only: a limit becomes a penalty on it)")
    if limits and penalty <= 0:
        raise ConfigError("optimise.penalty", "must be > 0 when limits are set (the cost of "
                                              "one unit of excess)")
    if not limits and "penalty" in node:
        raise ConfigError("optimise.penalty", "applies only with limits")
    priced = [n for n in names if n in PRICED]
    if priced and not has_firm:
        raise ConfigError("optimise.objective", f"{priced[0]} prices the controls with a "
                                                "firm's unit costs: add firm=NAME (conf/firm/)")
    return Objective(names, limits, float(penalty))


def pop_objective(cfg: dict[str, Any]) -> Objective | None:
    """Remove ``cfg["optimise"]`` (in place) and check it; None when there is none (the job
    returns nothing, as without a sweeper that optimises).

    Raises:
        ConfigError: see :func:`parse_objective`.
    """
    node = cfg.pop("optimise", None)
    if node is None:
        return None
    regime = cfg.get("regime")
    has_firm = cfg.get("firm") is not None or (
        isinstance(regime, Mapping) and regime.get("name", "none") != "none")
    objective = parse_objective(node, has_firm)
    check_directions(objective, sweeper_directions())
    return objective


def sweeper_directions() -> list[str] | None:
    """The running sweeper's ``direction`` as a list (Optuna's sweeper has one); None outside
    Hydra or for a sweeper without directions."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    if not HydraConfig.initialized():
        return None
    direction = OmegaConf.select(HydraConfig.get(), "sweeper.direction", default=None)
    if direction is None:
        return None
    if isinstance(direction, str):
        return [direction]
    return [str(getattr(d, "name", d)) for d in direction]


def check_directions(objective: Objective, directions: Sequence[str] | None) -> None:
    """Refuse a sweeper told a different number of objectives, or told to maximise one.

    Raises:
        ConfigError: naming ``optimise.objective`` and the direction to set.
    """
    if directions is None:
        return
    n = len(objective.names)
    want = "[" + ",".join(["minimize"] * n) + "]" if n > 1 else "minimize"
    if len(directions) != n or any(d != "minimize" for d in directions):
        raise ConfigError("optimise.objective", f"{n} objective{'s' if n > 1 else ''} "
                          f"({', '.join(objective.names)}), all minimised, but the sweeper's "
                          f"direction is {list(directions)}: set 'hydra.sweeper.direction="
                          f"{want}'")
