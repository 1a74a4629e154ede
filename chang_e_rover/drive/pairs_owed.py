"""The stereo pairs a control step waits for in simulation. Pure Python.

A pair's hazard map and visual odometry step come into use hazard.map_latency_s
after the pair. The drive controller learns that a pair was taken (the left
hazcam's camera_info), the hazard pipeline answers each pair it handles naming
the outputs it sent, and the step at the pair's due time waits for that answer
and those outputs (docs/simulator.md, Time). One writer's messages keep their
order, so an output counts as in once one stamped at or after the pair is heard.
"""
from __future__ import annotations

OUTPUTS = ('hazard/map', 'visual_odom')


class PairsOwed:
    """What the hazard pipeline owes the steps: each pair taken, then what it answered."""

    def __init__(self, latency_ns: int):
        self.latency_ns = latency_ns
        self._pairs: dict[int, set[str] | None] = {}   # pair -> outputs named (None: no answer)
        self._outputs_ns = dict.fromkeys(OUTPUTS, -1)   # the newest stamp heard of each
        self._answered_ns = -1
        # The pipeline has answered a pair: it reads the frames, so it owes an answer to
        # each pair taken from then on.
        self._answering = False

    def taken(self, stamp_ns: int) -> None:
        """A pair was taken at stamp_ns."""
        if self._answering and stamp_ns > self._answered_ns:
            self._pairs.setdefault(stamp_ns, None)

    def answered(self, stamp_ns: int, outputs: str) -> None:
        """The pipeline's answer to the pair of stamp_ns, naming what it sent (space-separated);
        a pair taken before it and not answered was replaced by it, with nothing."""
        for pair, named in self._pairs.items():
            if pair < stamp_ns and named is None:
                self._pairs[pair] = set()
        self._pairs[stamp_ns] = set(outputs.split()) & set(OUTPUTS)
        self._answered_ns = max(self._answered_ns, stamp_ns)
        self._answering = True

    def output(self, name: str, stamp_ns: int) -> None:
        """An output of the pair of stamp_ns was heard."""
        self._outputs_ns[name] = max(self._outputs_ns[name], stamp_ns)

    def ready(self, step_ns: int, pipeline_present: bool) -> bool:
        """Whether the step of step_ns may run: every pair due by it answered and the
        outputs named heard, unless the pipeline is gone. The pairs due are forgotten once
        it may."""
        if not pipeline_present:
            self.gone()
        due = [p for p in self._pairs if p + self.latency_ns <= step_ns]
        if pipeline_present and any(
                self._pairs[p] is None or any(self._outputs_ns[o] < p for o in self._pairs[p])
                for p in due):
            return False
        for p in due:
            del self._pairs[p]
        return True

    def gone(self) -> None:
        """The pipeline left the graph: one that comes owes answers from its first on."""
        self._answering = False

    def restart(self) -> None:
        """Sim time started again (a rebuilt world): no pair of the old world is owed."""
        self._pairs.clear()
        self._outputs_ns = dict.fromkeys(OUTPUTS, -1)
        self._answered_ns = -1
