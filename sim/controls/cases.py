"""Risk-based alerting: alerts add risk to the entity they are about; enough risk opens a case.

Under ``triage.discipline: risk_based`` (:mod:`sim.controls.triage`) analysts do not review
alerts one by one. Each alert is a *risk event*: it adds its score (on the benign z scale of
the detector, :meth:`sim.controls.detectors.Detector.benign_scores`) to the risk of the entity
it is about. When an entity's risk from the alerts of the last ``risk_window`` reaches
``risk_threshold``, a *case* opens on it, carrying that risk; the alerts counted go into the
case, and the entity's risk starts again from zero. Analysts then work cases (by risk, highest
first), with their own triage time.

Entities: every alert about the insider is about one entity (the insider's credential); benign
false alarms fall uniformly at random on ``risk_entities`` benign entities (an assumption: how
concentrated a SOC's false positives are on a few noisy users and hosts is what decides how many
benign cases open). This is the logic of risk-based alerting in SIEMs (e.g. Splunk Enterprise
Security's risk incident rules: a risk score per object summed over 24 hours against a
threshold).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable

#: The entity every alert about the insider is about.
INSIDER = "insider"


class RiskLedger:
    """Each entity's risk within a sliding window; says when a case opens.

    Args:
        threshold: the risk at which a case opens (``>=``).
        window: hours an alert's risk counts for (``inf``: until a case takes it).
    """

    _PRUNE_EVERY = 4096  # adds between sweeps of entities with nothing inside the window

    def __init__(self, threshold: float, window: float) -> None:
        self.threshold = threshold
        self.window = window
        self._risk: dict[Hashable, deque[tuple[float, float]]] = {}
        self._adds = 0

    def add(self, t: float, entity: Hashable, risk: float) -> float | None:
        """An alert at time ``t`` adds ``risk`` to ``entity``; times never decrease.

        Returns:
            The case's risk if a case opens on ``entity`` now (its risk is then reset), else
            None.
        """
        events = self._risk.get(entity)
        if events is None:
            events = self._risk[entity] = deque()
        oldest = t - self.window
        while events and events[0][0] < oldest:
            events.popleft()
        events.append((t, risk))
        total = sum(r for _, r in events)
        self._adds += 1
        if self._adds % self._PRUNE_EVERY == 0:
            self._prune(oldest)
        if total >= self.threshold:
            events.clear()
            return total
        return None

    def _prune(self, oldest: float) -> None:
        stale = [e for e, ev in self._risk.items() if not ev or ev[-1][0] < oldest]
        for e in stale:
            del self._risk[e]
