"""The departing employee: takes intellectual property in the weeks around leaving.

CERT's study of insider theft of intellectual property found most of it within about 30 days
of the insider's departure, before and after (Moore et al., "A Preliminary Model of Insider
Theft of Intellectual Property", CERT/SEI 2011; CERT Common Sense Guide, 7th ed., practice 20).
This insider is active only in ``[departure - before, departure + after]``: sessions follow the
profile's rhythm inside the window, none outside it, and after the window the insider stops for
good (``access_ended_by: stopped``). Time 0 is when the insider could first have acted (their
first day with the access, e.g. the day they decided to leave); the dwell clock starts there.

The departure must fall within the horizon, and the window must reach past time 0: otherwise
the insider would never act, which is refused as an error rather than simulated as a
no-show.

Decisions: ``wait-for-departure`` and ``stop`` (T1029 Scheduled Transfer); sessions go out
through ``channel`` (CERT: most IP thieves used email, removable media or cloud storage;
``cloud_storage`` is T1567.002 Exfiltration to Cloud Storage).

Config: ``insider/strategy=departing_employee`` (``departure``, ``before``, ``after``,
``channel``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.agents.strategy import CHANNELS, DECISION_TECHNIQUES, Strategy, Tactics
from sim.core.errors import ConfigError
from sim.core.params import spec

if TYPE_CHECKING:
    from sim.agents.insider import Insider
    from sim.core.engine import Model


@dataclass(frozen=True)
class DepartingParams:
    departure: float = spec(720.0, duration=True, lo=0,
                            doc="when the insider leaves, from time 0 (within the horizon)")
    before: float = spec(720.0, duration=True, lo=0, doc="theft starts this long before leaving")
    after: float = spec(720.0, duration=True, lo=0, doc="and goes on this long after")
    channel: str = spec("cloud_storage", choices=CHANNELS, doc="how the data leaves (CERT)")


class DepartingEmployee(Strategy):
    """Active only within ``before``/``after`` of ``departure``; stops after."""

    Params = DepartingParams

    def prepare(self, model: Model) -> None:
        p, horizon = self.params, model.run.horizon
        if p.departure > horizon:
            raise ConfigError("departure", f"must be within the horizon (0 to {horizon:g} h), "
                                           f"got {p.departure:g} h")

    def start(self, insider: Insider) -> Tactics:
        return _Window(insider, self.params)


class _Window(Tactics):
    def __init__(self, insider: Insider, params: DepartingParams) -> None:
        super().__init__(insider)
        self.opens = max(params.departure - params.before, 0.0)
        self.closes = params.departure + params.after
        self.channel = params.channel
        self.technique = (DECISION_TECHNIQUES["cloud"] if params.channel == "cloud_storage"
                          else DECISION_TECHNIQUES["scheduled"])
        self.told = False

    def next_start(self, now: float, proposed: float) -> float:
        if proposed > self.closes:
            self.decide("stop", DECISION_TECHNIQUES["scheduled"], channel=self.channel,
                        departure_window_end=self.closes)
            return float("inf")
        if proposed < self.opens:
            start = self.insider.arrivals.first_from(self.opens)
            if not self.told:
                self.told = True
                self.decide("wait-for-departure", (DECISION_TECHNIQUES["scheduled"],
                                                   self.technique), channel=self.channel,
                            until=start)
            return self.next_start(now, start) if start > self.closes else start
        return proposed
