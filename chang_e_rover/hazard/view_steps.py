"""Which stereo pairs the hazard map takes: each new view, not each frame. Pure Python.

The hazcams give a pair a second; at the rover's top speed (200 m/h) that is
0.056 m of travel, and matching every one of them re-measures the same ground
over and over at 165 ms a pair, most of the flight computer's budget (docs/
simulator.md, Board). Rovers that map from stereo image by the step of travel
instead (the MER and MSL navigation cameras every 0.5-0.75 m of an autonomous
drive). So does this pipeline: a pair is mapped when the rover has gone
`map.step_m` or turned `map.step_deg` since the last pair mapped, when it has
come to rest somewhere not yet mapped (the view it will decide from when it
moves again), and at least every `map.max_interval_s`, which keeps the map
inside the drive's hazard.map_timeout_s while the pipeline lives. Visual
odometry still takes every pair (hazard_node.py).

Poses are the odometry's (x, y, yaw) at the pair's stamp, so the choice is the
same in every run of a simulation.
"""
from __future__ import annotations

from dataclasses import dataclass
import math

REST_M = 0.001          # travel between two pairs below which the rover stood
REST_RAD = 0.001        # turn between two pairs below which it stood


@dataclass(frozen=True)
class Pose:
    x: float
    y: float
    yaw: float

    def apart(self, other: 'Pose') -> tuple[float, float]:
        """(distance m, absolute turn rad) from other to this pose."""
        return (math.hypot(self.x - other.x, self.y - other.y),
                abs(math.remainder(self.yaw - other.yaw, math.tau)))


class ViewSteps:
    """Decides pair by pair whether the map takes it."""

    def __init__(self, step_m: float, step_deg: float, max_interval_s: float):
        for name, value in (('map.step_m', step_m), ('map.step_deg', step_deg),
                            ('map.max_interval_s', max_interval_s)):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f'{name} {value!r}: must be finite and not negative')
        self.step_m, self.step_rad = step_m, math.radians(step_deg)
        self.max_interval_s = max_interval_s
        self._mapped: tuple[float, Pose] | None = None     # the last pair mapped: t, pose
        self._last: Pose | None = None     # the last pair seen (set once one is mapped)
        self.skipped = 0

    @classmethod
    def from_params(cls, p: dict) -> 'ViewSteps':
        """From the hazard_camera section of config/rover.yaml."""
        return cls(float(p['map.step_m']), float(p['map.step_deg']),
                   float(p['map.max_interval_s']))

    def take(self, t_s: float, x: float, y: float, yaw: float) -> bool:
        """Whether the pair of t_s, taken at odometry pose (x, y, yaw), is to be mapped;
        a pair taken is counted as mapped from here on."""
        pose = Pose(x, y, yaw)
        wanted = self._mapped is None or self._wanted(t_s, pose)
        self._last = pose
        if wanted:
            self._mapped = (t_s, pose)
        else:
            self.skipped += 1
        return wanted

    def _wanted(self, t_s: float, pose: Pose) -> bool:
        mapped_t, mapped = self._mapped
        if not 0.0 <= t_s - mapped_t < self.max_interval_s:    # (time went back: a new world)
            return True
        moved, turned = pose.apart(mapped)
        if moved >= self.step_m or turned >= self.step_rad:
            return True
        still_m, still_rad = pose.apart(self._last)
        at_rest = still_m < REST_M and still_rad < REST_RAD
        return at_rest and (moved >= REST_M or turned >= REST_RAD)
