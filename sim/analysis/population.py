"""A population of firms and attackers: a weighted mixture of scenarios, measured as one.

Industry figures (Mandiant's median dwell, Ponemon's and IBM's mean times) describe many
breaches at many firms, not one case. A study file (:mod:`sim.analysis.study`) describes such a
population with a ``population`` block: *factors* (firm archetypes, attacker types...), each a
set of *levels* with weights; a *component* is one level of every factor (their cross
product), its config the study's scenario plus every chosen level's overrides::

    scenario: generic_firm
    population:
      firm:                               # a factor
        audit_only:                       # a level of it
          weight: rest                    # 1 - the other levels' weights
          why: "..."                      # where the weight comes from (required)
        monitored:
          weight: 0.3                     # a share of the factor, > 0
          overrides: ["+detector@detectors.monitoring=continuous_monitoring"]
          why: "..."
      attacker:
        low_and_slow: {weight: 2, why: "..."}        # without 'rest': relative weights
        smash_and_grab:
          weight: 1
          scenario: null                  # optional: another conf/scenario option
          overrides: ["insider=smash_and_grab", "insider/strategy=smash_and_grab"]
          why: "..."
    parameters:
      population.firm.monitored:          # a level's weight as a parameter (not 'rest')
        range: [0, 0.6]
        why: "..."
      response.containment_delay:         # a config key: set in every component that has it
        range: [5d, 200d]
        why: "..."

Weights: within a factor, a level's share is its weight over the factor's total; with a
``rest`` level (at most one) the others are shares themselves and must add up to at most 1 (at
the top of their ranges, when they are parameters), and ``rest`` takes what is left. A
component's weight is the product of its levels' shares.

A batch of ``replications`` is split over the components by weight with the largest-remainder
rule (:func:`split`, deterministic: ties go to the earlier component), and component ``c``
runs its ``n_c`` replications with a seed drawn from the batch's seed and ``c``'s name (so
adding a component changes no other component's draws, and raising a weight adds replications
to a component without changing those it had: common random numbers). The outcomes are pooled
(in component order) and measured with :data:`sim.analysis.study.OUTPUTS` as one batch.

Every component shares one horizon (the study's, or the components' common one). Every
mistake in the block is a one-line :class:`~sim.core.errors.ConfigError` naming the key.
"""

from __future__ import annotations

import copy
import itertools
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.core.errors import ConfigError
from sim.outputs.results import ReplicationResult

LEVEL_KEYS = ("weight", "overrides", "scenario", "why")
#: parameter keys that set a level's weight: ``population.FACTOR.LEVEL``
PREFIX = "population."
REST = "rest"


@dataclass(frozen=True)
class Level:
    """One level of a factor: a weight (None: ``rest``), a scenario (None: the study's) and
    Hydra overrides."""

    name: str
    weight: float | None
    overrides: tuple[str, ...] = ()
    scenario: str | None = None
    why: str = ""


@dataclass(frozen=True)
class Factor:
    """A dimension of the population (firm archetype, attacker type...) and its levels."""

    name: str
    levels: tuple[Level, ...]

    @property
    def rest(self) -> Level | None:
        """The ``rest`` level, if any."""
        return next((lv for lv in self.levels if lv.weight is None), None)

    def shares(self, weights: Mapping[str, float]) -> list[float]:
        """Each level's share given the levels' ``weights`` (name -> weight; ``rest`` absent).

        Raises:
            ValueError: the weights leave no positive total, or the shares of a factor with a
                ``rest`` level exceed 1.
        """
        if self.rest is None:
            total = sum(weights[lv.name] for lv in self.levels)
            if not total > 0:
                raise ValueError(f"factor {self.name}: weights add up to {total:g}")
            return [weights[lv.name] / total for lv in self.levels]
        others = sum(w for w in weights.values())
        if others > 1 + 1e-12:
            raise ValueError(f"factor {self.name}: shares add up to {others:g} > 1")
        return [max(0.0, 1.0 - others) if lv.weight is None else weights[lv.name]
                for lv in self.levels]


def _weight(value: Any, at: str) -> float | None:
    if value == REST:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and value > 0):
        raise ConfigError(at, f"must be a positive number or '{REST}', got {value!r}")
    return float(value)


def parse_population(node: Any, key: str = "population") -> tuple[Factor, ...]:
    """The ``population`` block of a study file as factors, in file order.

    Raises:
        ConfigError: not a mapping of factor -> level -> spec, an unknown or missing key, a
            weight that is not positive (or ``rest``), two ``rest`` levels in a factor, fixed
            shares above 1 beside ``rest``, or levels of two factors that name a scenario.
    """
    shape = "must be a mapping of factor -> level -> {weight, overrides, scenario, why}"
    if not isinstance(node, Mapping) or not node:
        raise ConfigError(key, shape)
    factors = []
    scenario_factor = None
    for fname, levels in node.items():
        at_f = f"{key}.{fname}"
        if "." in str(fname):
            raise ConfigError(at_f, "a factor's name cannot contain '.'")
        if not isinstance(levels, Mapping) or not levels:
            raise ConfigError(at_f, "must be a mapping of level -> {weight, overrides, "
                                    "scenario, why}")
        parsed = []
        for lname, spec in levels.items():
            at = f"{at_f}.{lname}"
            if "." in str(lname):
                raise ConfigError(at, "a level's name cannot contain '.'")
            if not isinstance(spec, Mapping):
                raise ConfigError(at, "must be a mapping with weight, why and optionally "
                                      "overrides and scenario")
            for k in spec:
                if k not in LEVEL_KEYS:
                    from sim.analysis.study import _hint

                    raise ConfigError(f"{at}.{k}", f"unknown key{_hint(k, LEVEL_KEYS)}; "
                                                   f"allowed: {', '.join(LEVEL_KEYS)}")
            if "weight" not in spec:
                raise ConfigError(f"{at}.weight", "is required (a positive number or 'rest')")
            weight = _weight(spec["weight"], f"{at}.weight")
            why = spec.get("why")
            if not isinstance(why, str) or not why.strip():
                raise ConfigError(f"{at}.why", "is required: say where the weight and the "
                                               "level's numbers come from")
            overrides = spec.get("overrides") or []
            if isinstance(overrides, str) or not isinstance(overrides, Sequence):
                raise ConfigError(f"{at}.overrides", "must be a list of KEY=VALUE strings")
            scenario = spec.get("scenario")
            if scenario is not None:
                if not isinstance(scenario, str):
                    raise ConfigError(f"{at}.scenario", f"must be a conf/scenario option, got "
                                                        f"{scenario!r}")
                if scenario_factor not in (None, fname):
                    raise ConfigError(f"{at}.scenario", f"only one factor may name scenarios "
                                                        f"(factor {scenario_factor} does)")
                scenario_factor = fname
            parsed.append(Level(str(lname), weight, tuple(map(str, overrides)), scenario,
                                why.strip()))
        rests = [lv.name for lv in parsed if lv.weight is None]
        if len(rests) > 1:
            raise ConfigError(f"{at_f}.{rests[1]}.weight", f"only one level may be '{REST}' "
                                                           f"({rests[0]} is)")
        fixed = sum(lv.weight for lv in parsed if lv.weight is not None)
        if rests and fixed > 1:
            raise ConfigError(f"{at_f}.{rests[0]}.weight", f"'{REST}' needs the other levels' "
                                                           f"shares to add up to at most 1, "
                                                           f"they add up to {fixed:g}")
        factors.append(Factor(str(fname), tuple(parsed)))
    return tuple(factors)


def split(weights: Sequence[float], n: int) -> list[int]:
    """``n`` split over ``weights`` (non-negative, positive sum) by the largest-remainder rule:
    ``floor(n w_i / W)`` each, then one more to the largest remainders (ties: the earlier).
    The counts add up to ``n``; a weight of 0 gets 0."""
    w = np.asarray(weights, dtype=float)
    exact = n * w / w.sum()
    counts = np.floor(exact).astype(int)
    rem = np.round(exact - counts, 9)  # equal shares tie exactly, whatever the rounding
    order = sorted(range(len(w)), key=lambda i: (-rem[i], i))
    for i in order[: n - int(counts.sum())]:
        counts[i] += 1
    return [int(c) for c in counts]


@dataclass
class Component:
    """One cell of the population: its name (``firm=monitored,attacker=prober``), the index of
    its level in each factor and its composed plain config."""

    name: str
    levels: tuple[int, ...]
    config: dict[str, Any]

    def seed(self, seed: int) -> int:
        """The component's seed in a batch of seed ``seed`` (a function of its name)."""
        ss = np.random.SeedSequence([seed, zlib.crc32(self.name.encode())])
        return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))


class Population:
    """A weighted mixture of composed scenarios with the interface of
    :class:`sim.analysis.study.Scenario` (``parameters``, ``horizon``, ``base``, ``values``,
    ``simulate``, ``measure``), so sensitivity and calibration studies run it unchanged.

    Args:
        scenario, overrides: the study's scenario and overrides (every component's start).
        factors: from :func:`parse_population`.
        parameters: config keys (set in every component where the key is a leaf; at least one
            must have it) and ``population.FACTOR.LEVEL`` weights (a level that is not
            ``rest``; range from 0 up).
        replications, seed, horizon: of every batch (horizon None: the components' common one).
        key: the study file's key of the parameters, for error messages.

    Raises:
        ConfigError: a component that does not compose or build (named by its level), a
            parameter no component has, a weight range below 0 or one that can push a
            factor's shares past 1, or components with different horizons.
    """

    def __init__(self, scenario: str, overrides: Sequence[str], factors: Sequence[Factor],
                 parameters: Sequence[Any], replications: int, seed: int,
                 horizon: Any = None, key: str = "parameters") -> None:
        from sim.analysis.study import _hint, _keys, compose_scenario, set_key
        from sim.core.engine import build_model

        self.name = scenario
        self.factors = tuple(factors)
        self.parameters = tuple(parameters)
        self.seed, self.replications = seed, replications
        self.components: list[Component] = []
        for combo in itertools.product(*(enumerate(f.levels) for f in self.factors)):
            chosen = [(f, lv) for f, (_i, lv) in zip(self.factors, combo, strict=True)]
            name = ",".join(f"{f.name}={lv.name}" for f, lv in chosen)
            scen = next((lv.scenario for _f, lv in chosen if lv.scenario), scenario)
            extra = [o for _f, lv in chosen for o in lv.overrides]
            try:
                cfg = compose_scenario(scen, [*overrides, *extra])
            except ConfigError as err:
                raise self._blame(err, name, scen, scenario, overrides, chosen) from None
            cfg["replications"] = replications
            cfg["seed"] = seed
            if horizon is not None:
                cfg["horizon"] = horizon
            self.components.append(Component(name, tuple(i for i, _lv in combo), cfg))
        horizons = set()
        for c in self.components:
            try:
                horizons.add(build_model(c.config).run.horizon)
            except ConfigError as err:
                raise ConfigError("population", f"component {c.name} does not build: "
                                                f"{err}") from None
        if len(horizons) > 1:
            raise ConfigError("horizon", "the components' scenarios have different horizons: "
                                         "set horizon in the study file")
        self.horizon = horizons.pop()
        # parameters: weights, then config keys with the components that have them
        self._weight_params: dict[str, tuple[int, str]] = {}
        self._where: dict[str, list[int]] = {}
        keys = sorted({k for c in self.components for k in _keys(c.config)})
        for p in self.parameters:
            at = f"{key}.{p.key}"
            if p.key.startswith(PREFIX):
                self._weight_params[p.key] = self._weight_param(p, at)
                continue
            where = []
            for j, c in enumerate(self.components):
                try:
                    set_key(copy.deepcopy(c.config), p.key, p.lo)
                except KeyError:
                    continue
                where.append(j)
            if not where:
                raise ConfigError(at, f"not a key of any component of the population"
                                      f"{_hint(p.key, keys)}")
            self._where[p.key] = where
            for j in where:
                for end in (p.lo, p.hi):
                    cfg = copy.deepcopy(self.components[j].config)
                    set_key(cfg, p.key, p.value(0.0 if end == p.lo else 1.0))
                    try:
                        build_model(cfg)
                    except ConfigError as err:
                        raise ConfigError(f"{at}.range", f"component {self.components[j].name} "
                                          f"refuses {end:g}: {err}") from None
        for f in self.factors:  # the weights stay feasible at both ends of their ranges
            for top in (True, False):
                ws = {lv.name: self._level_weight(f, lv, None, top) for lv in f.levels
                      if lv.weight is not None}
                try:
                    f.shares(ws)
                except ValueError as exc:
                    raise ConfigError(f"{key}.{PREFIX}{f.name}", f"at the "
                                      f"{'top' if top else 'bottom'} of the weight ranges: "
                                      f"{exc}") from None
        self._models: dict[int, Any] = {}
        self.base = copy.deepcopy(self.components[0].config)
        self.base["population"] = {f.name: {lv.name: lv.weight for lv in f.levels}
                                   for f in self.factors}

    @staticmethod
    def _blame(err: ConfigError, name: str, scen: str, scenario: str,
               overrides: Sequence[str], chosen: Sequence[tuple[Factor, Level]]) -> ConfigError:
        """The error of a component that did not compose, keyed by the level at fault (found
        by composing each level's overrides alone)."""
        from sim.analysis.study import compose_scenario

        if err.key == "scenario":
            at = next((f"population.{f.name}.{lv.name}.scenario" for f, lv in chosen
                       if lv.scenario == scen), "scenario")
            return ConfigError(at, err.message)
        for f, lv in chosen:
            if lv.overrides:
                try:
                    compose_scenario(scen, [*overrides, *lv.overrides])
                except ConfigError as own:
                    return ConfigError(f"population.{f.name}.{lv.name}.overrides", own.message)
        return ConfigError("population", f"component {name} does not compose: {err.message}")

    # -- weights ------------------------------------------------------------------------------
    def _weight_param(self, p: Any, at: str) -> tuple[int, str]:
        parts = p.key[len(PREFIX):].split(".")
        names = [f"{PREFIX}{f.name}.{lv.name}" for f in self.factors for lv in f.levels
                 if lv.weight is not None]
        if len(parts) != 2:
            raise ConfigError(at, f"a weight parameter is population.FACTOR.LEVEL; allowed: "
                                  f"{', '.join(names)}")
        fi = next((i for i, f in enumerate(self.factors) if f.name == parts[0]), None)
        level = None if fi is None else next(
            (lv for lv in self.factors[fi].levels if lv.name == parts[1]), None)
        if fi is None or level is None or level.weight is None:
            from sim.analysis.study import _hint

            raise ConfigError(at, f"not a level with a weight{_hint(p.key, names)}; allowed: "
                                  f"{', '.join(names)}")
        if p.lo < 0:
            raise ConfigError(f"{at}.range", f"a weight cannot be negative, got {p.lo:g}")
        return fi, parts[1]

    def _param_of(self, f: Factor, lv: Level) -> Any:
        return next((p for p in self.parameters
                     if p.key == f"{PREFIX}{f.name}.{lv.name}"), None)

    def _level_weight(self, f: Factor, lv: Level, values: Mapping[str, Any] | None,
                      top: bool = True) -> float:
        p = self._param_of(f, lv)
        if p is None:
            return float(lv.weight)  # type: ignore[arg-type]
        if values is None:
            return p.hi if top else p.lo
        return float(values.get(p.key, lv.weight))

    def shares(self, values: Mapping[str, Any] | None = None) -> np.ndarray:
        """Each component's weight (they add up to 1) with the weight parameters in
        ``values`` set (others: the file's weights)."""
        values = values or {}
        per = []
        for f in self.factors:
            ws = {lv.name: self._level_weight(f, lv, values) for lv in f.levels
                  if lv.weight is not None}
            try:
                per.append(f.shares(ws))
            except ValueError as exc:
                raise ConfigError(f"{PREFIX}{f.name}", str(exc)) from None
        return np.array([math.prod(per[k][i] for k, i in enumerate(c.levels))
                         for c in self.components])

    def split(self, values: Mapping[str, Any] | None = None,
              replications: int | None = None) -> list[int]:
        """Replications per component: :func:`split` of the batch by :meth:`shares`."""
        return split(self.shares(values), self.replications if replications is None
                     else replications)

    # -- the Scenario interface ---------------------------------------------------------------
    def values(self, units: Sequence[float]) -> dict[str, float | int]:
        """The parameters' values at ``units`` (one number in [0, 1] per parameter)."""
        return {p.key: p.value(float(u)) for p, u in zip(self.parameters, units, strict=True)}

    def model(self, j: int, values: Mapping[str, Any]) -> Any:
        """Component ``j``'s model with the config parameters in ``values`` set (a component
        no parameter touches is built once)."""
        from sim.analysis.study import set_key
        from sim.core.engine import build_model

        mine = {k: v for k, v in values.items() if j in self._where.get(k, ())}
        if not mine and j in self._models:
            return self._models[j]
        cfg = copy.deepcopy(self.components[j].config)
        for k, v in mine.items():
            set_key(cfg, k, v)
        model = build_model(cfg)
        if not mine:
            self._models[j] = model
        return model

    def simulate_components(self, values: Mapping[str, Any], seed: int | None = None,
                            replications: int | None = None
                            ) -> list[tuple[str, list[ReplicationResult]]]:
        """Each component's replications (its share of the batch, its own seed), in order."""
        from sim.core.engine import simulate_many

        s = self.seed if seed is None else seed
        out = []
        for j, n in enumerate(self.split(values, replications)):
            c = self.components[j]
            # freeze=False: no full collection per component (~30 ms each, more than a small
            # component's replications); the replications' garbage is still collected
            rows = (list(simulate_many(self.model(j, values), c.seed(s), range(n),
                                       freeze=False)) if n else [])
            out.append((c.name, rows))
        return out

    def simulate(self, values: Mapping[str, Any], seed: int | None = None,
                 replications: int | None = None) -> list[ReplicationResult]:
        """The pooled replications of one batch (components in order)."""
        return [r for _name, rows in self.simulate_components(values, seed, replications)
                for r in rows]

    def measure(self, values: Mapping[str, Any], outputs: Sequence[str],
                seed: int | None = None) -> list[float]:
        """The named :data:`~sim.analysis.study.OUTPUTS` of one pooled batch."""
        from sim.analysis.study import OUTPUTS

        results = self.simulate(values, seed)
        return [OUTPUTS[name][0](results, self.horizon) for name in outputs]
