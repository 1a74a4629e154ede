"""Which flight nodes the simulator waits for before it steps, and for how long.

Pure logic, no rclpy: the simulator node (through loop.Presence) tells it who is
on the graph, what each node answered and what time it is; it answers whether
the next control period may be stepped. Nothing here decides on the wall clock except the watchdog, which
never steps on: it stops the simulation and names the silent node.

Channels in the loop (docs/simulator.md, Time):
- each wheel unit answers every motor reading (its torque command carries the
  reading's stamp): needed for the current step;
- the drive controller answers every control period (rover/odom stamped with
  the period it closes): needed for the current step;
- the hazard pipeline answers every stereo pair it was sent (its diagnostics
  carry the pair's stamp): needed a control period before the pair's map is due
  (map_latency_s after the pair), so the stereo match runs while the physics steps
  on, and the map and visual odometry step, published before the answer, are on
  their way to the controller a period before its step that takes them into use
  (which waits for them).

A channel whose node is not on the graph is not waited for (a process that died
is what the flight software must cope with, and sees in sim time). A node owes
answers for the inputs published while it was on the graph, and only those. The
first inputs go out once every channel expected at start is on the graph, so
that all of them start from the same first step (startable).
"""
from __future__ import annotations

from dataclasses import dataclass, field

NS = 1_000_000_000
# /sim/lockstep's keys for the wall seconds the steps waited, by the node answering last
WAITED_KEY = 'waited_s.'


def waited_values(waited_s: dict[str, float]) -> list[tuple[str, str]]:
    """The (key, value) pairs /sim/lockstep carries for Lockstep.waited_s."""
    return [(f'{WAITED_KEY}{name}', f'{s:.3f}') for name, s in sorted(waited_s.items())]


def waited_from(values) -> dict[str, float]:
    """Lockstep.waited_s back from /sim/lockstep's (key, value) pairs."""
    return {k.removeprefix(WAITED_KEY): float(v) for k, v in values if k.startswith(WAITED_KEY)}


class LockstepStalled(RuntimeError):
    """A node in the loop is on the graph but has not answered within the watchdog."""


@dataclass
class Channel:
    name: str                     # the node's name, for messages
    answered_ns: int = -1         # newest stamp it answered
    present: bool = False         # its process is on the graph
    due: list[int] = field(default_factory=list)   # stamps of inputs it owes an answer for


class Lockstep:
    """Per-step readiness of the in-loop channels, with a wall-clock watchdog."""

    def __init__(self, every_step: list[str], on_demand: list[str], latency_ns: int,
                 watchdog_s: float, expect_at_start: list[str] = ()):
        self.every_step = {n: Channel(n) for n in every_step}
        self.on_demand = {n: Channel(n) for n in on_demand}
        self.latency_ns = int(latency_ns)
        self.watchdog_s = float(watchdog_s)
        unknown = set(expect_at_start) - set(self.every_step) - set(self.on_demand)
        if unknown:
            raise ValueError(f'lockstep: cannot expect unknown channels {sorted(unknown)}')
        self.expected = set(expect_at_start)
        self.started = not self.expected
        self.inputs_ns: int | None = None   # stamp of the newest inputs published
        self._since: float | None = None    # wall time the current wait began
        self.waiting: tuple[list[str], float] = ([], 0.0)   # who, and for how long (wall s)
        # Wall seconds the steps waited, by the channel(s) answering last (a wait that
        # ends with several answering at once is split between them): where a slow
        # simulation's time goes. Counted from the first step on.
        self.waited_s: dict[str, float] = {n: 0.0 for n in self.channels}

    @property
    def channels(self) -> dict[str, Channel]:
        return {**self.every_step, **self.on_demand}

    def presence(self, name: str, present: bool) -> None:
        """Whether the channel's node is on the graph. One that comes owes answers from
        the inputs after the newest already published (it did not get those); one that
        left owes nothing."""
        ch = self.channels[name]
        if present and not ch.present and self.inputs_ns is not None:
            ch.answered_ns = max(ch.answered_ns, self.inputs_ns)
        if ch.present and not present:
            ch.due.clear()
        ch.present = present

    def inputs(self, stamp_ns: int) -> None:
        """The inputs of the step at stamp_ns were published to the nodes on the graph."""
        self.inputs_ns = int(stamp_ns)

    def restart(self) -> None:
        """The world was rebuilt and its time starts again: every node owes the new first
        step its answer, and nothing older."""
        for ch in self.channels.values():
            ch.answered_ns = -1
            ch.due.clear()
        self.inputs_ns = None
        self._since = None

    def answer(self, name: str, stamp_ns: int) -> None:
        ch = self.channels[name]
        ch.answered_ns = max(ch.answered_ns, int(stamp_ns))
        ch.due = [d for d in ch.due if d > ch.answered_ns]

    def sent(self, name: str, stamp_ns: int) -> None:
        """An input that the on-demand channel must answer was published at stamp_ns."""
        ch = self.on_demand[name]
        if ch.present and stamp_ns > ch.answered_ns:
            ch.due.append(int(stamp_ns))

    def startable(self, wall_s: float) -> bool:
        """True once every channel expected at start is on the graph: the first inputs
        may go out. Raises LockstepStalled past the watchdog."""
        if not self.started:
            missing = sorted(n for n in self.expected if not self.channels[n].present)
            if not self._wait(missing, wall_s, 'not on the graph at start'):
                return False
            self.started = True
        return True

    def waiting_for(self, now_ns: int, next_ns: int) -> list[str]:
        """Channels that must answer before the step from now_ns to next_ns."""
        waiting = [c.name for c in self.every_step.values()
                   if c.present and c.answered_ns < now_ns]
        period = next_ns - now_ns
        waiting += [c.name for c in self.on_demand.values()
                    if c.present and any(d + self.latency_ns <= next_ns + period for d in c.due)]
        return waiting

    def ready(self, now_ns: int, next_ns: int, wall_s: float) -> bool:
        """True when the step may be taken; raises LockstepStalled past the watchdog."""
        return self.startable(wall_s) and self._wait(
            self.waiting_for(now_ns, next_ns), wall_s, f'no answer for t={now_ns / NS:.3f} s (sim)')

    def _wait(self, waiting: list[str], wall_s: float, what: str) -> bool:
        if not waiting:
            last, since = self.waiting[0], self._since
            if last and since is not None and self.started:
                for name in last:
                    self.waited_s[name] += (wall_s - since) / len(last)
            self._since = None
            self.waiting = ([], 0.0)
            return True
        if self._since is None:
            self._since = wall_s
        self.waiting = (waiting, wall_s - self._since)
        if wall_s - self._since > self.watchdog_s:
            raise LockstepStalled(f'lock-step: {", ".join(waiting)}: {what} after '
                                  f'{self.watchdog_s:.0f} s of wall time; simulation stopped')
        return False
