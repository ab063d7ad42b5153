"""Places: where activity happens on the network, who else is there, and where a control watches.

Every asset of the network (host, service, datastore) is a *place*. Two things live here:

* **Benign traffic at a place** (:class:`PlaceTraffic`): the observations a sensor there would
  score besides the insider's — customers' sessions at the API gateway, a few admins at a
  bastion, the API's own service account at a datastore. An asset carries its model in
  optional node attributes (:data:`TRAFFIC_ATTRS`, validated by :mod:`sim.world.network`); an asset
  without ``traffic_rate`` gets an equal share of the staff population of the ``background``
  config (``employees x observations_per_employee_per_day``), in the firm's office rhythm, with
  the staff feature medians below. So a network without traffic attributes behaves as the
  whole staff population seen by a sensor that watches the whole estate.
* **Where a control watches** (:class:`Selector`, the ``watch`` key of an observing detector):
  ``all`` (every asset, the default) or filters that keep the assets matching *every* one
  given, as a mapping or as one string (``"role:gateway+zone:dmz|app+coverage:0.6"``, the
  form to override and sweep on the command line) — ``kind``, ``zone``, ``role``, ``ids``,
  ``tags`` (lists: any of), ``internet_facing`` (true/false) — and ``coverage``, the share of
  the matched assets that actually carry the sensor (EDR on 60% of hosts:
  ``{kind: [host], coverage: 0.6}`` or ``kind:host+coverage:0.6``). Which assets are covered is
  drawn per replication from the detector's own stream (the defender's deployment is not known
  to the modeller); benign traffic is scaled by ``coverage`` (its expectation). A selector that
  matches nothing is an error.

Feature medians of benign traffic (per client observation; ``traffic_spread`` is the standard
deviation of their logarithms, one for all features) are what :mod:`sim.controls.scoring` compares
the insider's observations with.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from sim.core.errors import ConfigError
from sim.world.calendar import PROFILES, PointStream, Rhythm

if TYPE_CHECKING:
    import numpy as np

    from sim.world.background import Background
    from sim.world.calendar import Calendar
    from sim.world.network import Network

#: Optional node attributes of an asset that describe its benign traffic.
TRAFFIC_ATTRS: Final = ("traffic_rate", "traffic_profile", "traffic_weekend",
                        "traffic_utc_offset", "traffic_records", "traffic_rate_per_ip",
                        "traffic_spread")

# Staff sessions at an asset without its own traffic model (assumptions, no public figure):
STAFF_RECORDS: Final = 20.0        # records an employee's session touches (median)
STAFF_RATE_PER_IP: Final = 120.0   # requests per hour from one workstation (median)
STAFF_SPREAD: Final = 1.0          # log-sd: a factor e (2.7) covers +-1 sd


@dataclass(frozen=True)
class PlaceTraffic:
    """The benign traffic at one place.

    Attributes:
        rate: benign observations per hour (mean over the week).
        rhythm_key: ``(profile, utc_offset, weekend)``: places with the same key share a rhythm.
        records: median records per benign client observation.
        rate_per_ip: median requests per hour from one benign client address.
        spread: standard deviation of the logarithm of each feature (> 0).
        staff: the rate is a share of the ``background`` staff population.
        rhythm: the weekly rhythm of this traffic (for the ``off_hours`` feature).
    """

    rate: float
    rhythm_key: tuple[Any, float, float]
    records: float
    rate_per_ip: float
    spread: float
    staff: bool
    rhythm: Rhythm | None = field(default=None, compare=False, repr=False)


class BenignStream:
    """The benign observations of a group of places that share a rhythm: a Poisson process of
    mean rate ``rate`` per hour shaped by ``rhythm`` (the generalisation of
    :class:`sim.world.background.Background` to any set of places)."""

    def __init__(self, rate: float, rhythm: Rhythm, key: str) -> None:
        self.rate = rate
        self.rhythm = rhythm
        #: names the group in stream names (``""`` for the staff rhythm, so a network without
        #: traffic attributes draws exactly as the single staff stream always did)
        self.key = key

    def arrival_times(self, rng: np.random.Generator, probability: float,
                      start: float = 0.0) -> PointStream:
        """The times after ``start`` of benign observations that trip a detector with
        ``probability``: a Poisson process of rate ``probability * rate`` (thinning)."""
        return self.rhythm.points(probability * self.rate, rng, start=start)

    def alarms(self, run: Any, rng: np.random.Generator, probability: float,
               on_alarm: Any) -> None:
        """Exact mode: every benign observation is a SimPy event (see
        :meth:`sim.world.background.Background.alarms`)."""
        if probability <= 0 or self.rate <= 0:
            return
        run.env.process(self._exact(run, rng, probability, on_alarm))

    def _exact(self, run, rng, probability, on_alarm):
        env, next_point, rate = run.env, self.rhythm.next_point, self.rate
        while True:
            t = next_point(env.now, rate, rng)
            yield env.timeout(t - env.now)
            if rng.random() < probability:
                on_alarm()


class Places:
    """The benign traffic of every asset of a job's network (read-only, shared).

    Args:
        network: the validated network.
        background: the staff population, shared by the assets without ``traffic_rate``.
        calendar: where simulation time 0 is (for rhythms).
    """

    def __init__(self, network: Network, background: Background, calendar: Calendar) -> None:
        self.network = network
        self.background = background
        self.calendar = calendar
        bp = background.params
        self._staff_key = (bp.profile if isinstance(bp.profile, str) else tuple(bp.profile),
                           float(bp.utc_offset_hours), float(bp.weekend_factor))
        self._rhythms: dict[tuple, Rhythm] = {self._staff_key: background.rhythm}
        self.staff_places = [a for a in network.assets()
                             if "traffic_rate" not in network.node(a)]
        self.traffic: dict[str, PlaceTraffic] = {a: self._traffic(a) for a in network.assets()}

    def _traffic(self, asset: str) -> PlaceTraffic:
        attrs = self.network.node(asset)
        staff = "traffic_rate" not in attrs
        if staff:
            key = self._staff_key
            rate = (self.background.rate / len(self.staff_places)) if self.staff_places else 0.0
        else:
            key = (attrs.get("traffic_profile", self._staff_key[0]),
                   float(attrs.get("traffic_utc_offset", self._staff_key[1])),
                   float(attrs.get("traffic_weekend", self._staff_key[2])))
            rate = float(attrs["traffic_rate"])
        return PlaceTraffic(rate, key, float(attrs.get("traffic_records", STAFF_RECORDS)),
                            float(attrs.get("traffic_rate_per_ip", STAFF_RATE_PER_IP)),
                            float(attrs.get("traffic_spread", STAFF_SPREAD)), staff,
                            self.background.rhythm if staff else self._rhythm(key))

    def _rhythm(self, key: tuple) -> Rhythm:
        rhythm = self._rhythms.get(key)
        if rhythm is None:
            profile, offset, weekend = key
            rhythm = Rhythm(self.calendar, profile, offset, weekend, key="traffic_profile")
            self._rhythms[key] = rhythm
        return rhythm

    def rate(self, places: frozenset[str], coverage: float = 1.0) -> float:
        """Benign observations per hour at ``places`` (scaled by ``coverage``)."""
        return sum(s.rate for s in self.streams(places, coverage))

    def streams(self, places: frozenset[str], coverage: float = 1.0) -> list[BenignStream]:
        """The benign traffic at ``places``, one stream per rhythm, the staff rhythm first.

        The staff share is computed as ``background rate x (watched staff places / all staff
        places)``, so a sensor on every asset sees exactly the ``background`` rate.
        """
        staff = sum(1 for p in places if self.traffic[p].staff)
        out = []
        if staff and self.staff_places:
            share = staff / len(self.staff_places)
            out.append(BenignStream(self.background.rate * share * coverage,
                                    self.background.rhythm, ""))
        groups: dict[tuple, float] = {}
        for p in sorted(places):
            t = self.traffic[p]
            if not t.staff:
                groups[t.rhythm_key] = groups.get(t.rhythm_key, 0.0) + t.rate
        for key in sorted(groups, key=repr):
            out.append(BenignStream(groups[key] * coverage, self._rhythm(key),
                                    f"{zlib.crc32(repr(key).encode()):08x}"))
        return [s for s in out if s.rate > 0]


# --------------------------------------------------------------------------------------------
_LIST_KEYS: Final = ("kind", "zone", "role", "ids", "tags")


@dataclass(frozen=True)
class Selector:
    """Where a control watches (the ``watch`` key); see the module docstring."""

    kind: tuple[str, ...] = ()
    zone: tuple[str, ...] = ()
    role: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    internet_facing: bool | None = None
    coverage: float = 1.0

    @classmethod
    def parse(cls, value: Any, key: str = "watch") -> Selector:
        """``all`` or a mapping of filters (see the module docstring).

        Raises:
            ConfigError: an unknown filter, a value of the wrong type, coverage outside (0, 1].
        """
        if value is None or value == "all":
            return cls()
        if isinstance(value, str):
            value = cls._from_text(value, key)
        if not isinstance(value, Mapping):
            raise ConfigError(key, f"must be 'all', text or a mapping of filters "
                                   f"({', '.join(_LIST_KEYS)}, internet_facing, coverage); "
                                   f"got {value!r}")
        args: dict[str, Any] = {}
        for name, v in value.items():
            if name in _LIST_KEYS:
                items = [v] if isinstance(v, str) else v
                if (not isinstance(items, (list, tuple)) or not items
                        or not all(isinstance(i, str) and i for i in items)):
                    raise ConfigError(f"{key}.{name}", f"must be a name or a non-empty list of "
                                                       f"names, got {v!r}")
                args[name] = tuple(items)
            elif name == "internet_facing":
                if not isinstance(v, bool):
                    raise ConfigError(f"{key}.{name}", f"must be true or false, got {v!r}")
                args[name] = v
            elif name == "coverage":
                if (isinstance(v, bool) or not isinstance(v, (int, float))
                        or not 0 < v <= 1 or math.isnan(v)):
                    raise ConfigError(f"{key}.{name}", f"must be in (0, 1], got {v!r}")
                args[name] = float(v)
            else:
                raise ConfigError(f"{key}.{name}", f"unknown filter; allowed: "
                                                   f"{', '.join(_LIST_KEYS)}, internet_facing, "
                                                   f"coverage")
        return cls(**args)

    @staticmethod
    def _from_text(text: str, key: str) -> dict[str, Any]:
        """``"kind:host+zone:dmz|app+coverage:0.6"``: the one-string form of a selector.

        Filters are ``name:value`` (or ``name=value``) joined by ``+`` or spaces, the
        alternatives of a list by ``|`` (or ``,``). Written with ``:``, ``+`` and ``|`` it needs
        no quoting on the command line (``detectors.m.watch=role:gateway``), and a Hydra sweep
        over placements is a plain comma list (``watch=role:gateway,kind:datastore``)."""
        out: dict[str, Any] = {}
        for token in re.split(r"[+\s]+", text.strip()):
            match = re.fullmatch(r"([A-Za-z_]+)[:=](.+)", token)
            if match is None:
                raise ConfigError(key, f"must be 'all', a mapping of filters or text like "
                                       f"'kind:host+zone:dmz|app+coverage:0.6'; got {text!r}")
            name, value = match.groups()
            if name == "coverage":
                try:
                    out[name] = float(value)
                except ValueError:
                    raise ConfigError(f"{key}.coverage", f"must be a number in (0, 1], got "
                                                         f"{value!r}") from None
            elif name == "internet_facing":
                if value not in ("true", "false"):
                    raise ConfigError(f"{key}.{name}", f"must be true or false, got {value!r}")
                out[name] = value == "true"
            else:
                out[name] = re.split(r"[|,]", value)
        return out

    def _keeps(self, node: str, attrs: Mapping[str, Any]) -> bool:
        if self.kind and attrs.get("kind") not in self.kind:
            return False
        if self.zone and attrs.get("zone") not in self.zone:
            return False
        if self.role and attrs.get("role") not in self.role:
            return False
        if self.ids and node not in self.ids:
            return False
        if self.tags:
            tags = attrs.get("tags", ())
            tags = [t.strip() for t in tags.split(",")] if isinstance(tags, str) else tags
            if not set(self.tags).intersection(tags):
                return False
        return (self.internet_facing is None
                or bool(attrs.get("internet_facing", False)) == self.internet_facing)

    def match(self, network: Network, key: str = "watch") -> frozenset[str]:
        """The assets of ``network`` this selector keeps (before coverage).

        Raises:
            ConfigError: it keeps no asset (naming what the network has), or names an id that
                is not an asset.
        """
        assets = network.assets()
        missing = [i for i in self.ids if i not in set(assets)]
        if missing:
            raise ConfigError(f"{key}.ids", f"{missing[0]!r} is not an asset of network "
                                            f"{network.name!r}")
        kept = frozenset(a for a in assets if self._keeps(a, network.node(a)))
        if not kept:
            roles = sorted({str(network.node(a).get("role", "")) for a in assets} - {""})
            raise ConfigError(key, f"matches no asset of network {network.name!r} (zones: "
                                   f"{', '.join(network.zones())}; roles: {', '.join(roles)})")
        return kept

    def describe(self) -> str:
        """Short text for the summary: ``all`` or the filters given."""
        parts = [f"{k}={','.join(getattr(self, k))}" for k in _LIST_KEYS if getattr(self, k)]
        if self.internet_facing is not None:
            parts.append(f"internet_facing={str(self.internet_facing).lower()}")
        if self.coverage < 1:
            parts.append(f"coverage={self.coverage:g}")
        return " ".join(parts) or "all"


def check_profile(value: Any) -> bool:
    """Whether ``value`` names a rhythm profile (for the network grammar)."""
    return isinstance(value, str) and value in PROFILES
