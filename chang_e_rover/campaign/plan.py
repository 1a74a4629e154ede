"""A Monte Carlo campaign's runs: which seeds, how many wheels fail, which, how and when.

Pure Python. A campaign is a list of RunSpec, one per (seed, k); each is drawn from its
own seeded generator, so the same campaign arguments give the same runs on any machine,
in any order, on any number of workers. Bad arguments are refused here, before anything
runs (CampaignError says which and what is allowed).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
import math
import random

from chang_e_rover.hazard.costs import TRAVERSABLE_MAX
from chang_e_rover.robot_description import WHEEL_IDS
from chang_e_rover.sim.motor import FAULT_KINDS as SIM_FAULT_KINDS

PARENT_ENV = 'CHANG_E_ROVER_RUN_PARENT'     # the pid of the process that started a run
RUN_DIR_PREFIX = 'chang_e_rover_run_'       # a run's temporary folder (its state and share)

FAULT_KINDS = tuple(kind for kind in SIM_FAULT_KINDS if kind != 'none')   # what can be injected
# A fault comes at a random moment of the drive: not before the rover is under way, and
# early enough that the degraded vehicle has most of the drive still ahead of it.
FAULT_WINDOW_S = (20.0, 300.0)


class CampaignError(ValueError):
    """Campaign arguments that cannot make a campaign; nothing is run."""


@dataclass(frozen=True)
class Fault:
    wheel: str
    kind: str
    at_s: float        # sim time of the injection


@dataclass(frozen=True)
class RunSpec:
    """One run of the flown stack: terrain, goal, faults, limits."""
    index: int                     # its place in the campaign (ports and domain derive from it)
    seed: int
    k: int
    faults: tuple[Fault, ...] = field(default_factory=tuple)
    goal_m: float = 20.0           # ahead of the start, along +x (moved to open ground)
    cap_s: float = 1200.0          # sim seconds before the run counts as a miss
    rock_abundance: float = 0.03

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> RunSpec:
        return cls(**{**d, 'faults': tuple(Fault(**f) for f in d['faults'])})


def parse_seeds(text: str) -> list[int]:
    """'1-30', '3,7,9' or '1-5,40' as a sorted list of distinct seeds."""
    seeds: set[int] = set()
    for part in (p.strip() for p in str(text).split(',')):
        if not part:
            continue
        lo, _, hi = part.partition('-')
        try:
            a, b = int(lo), int(hi) if hi else int(lo)
        except ValueError:
            raise CampaignError(f'seeds {text!r}: expected numbers and ranges like 1-30,45') \
                from None
        if a < 0 or b < a:
            raise CampaignError(f'seeds {part!r}: a range runs from a seed >= 0 up')
        seeds.update(range(a, b + 1))
    if not seeds:
        raise CampaignError(f'seeds {text!r}: the list is empty; give at least one seed')
    return sorted(seeds)


def make_runs(seeds: list[int], ks: list[int], kinds: tuple[str, ...] = FAULT_KINDS,
              goal_m: float = 20.0, cap_s: float = 1200.0,
              rock_abundance: float = 0.03) -> list[RunSpec]:
    """Every (k, seed) of the campaign, k faults each drawn from random.Random(seed, k)."""
    if not seeds:
        raise CampaignError('no seeds: give at least one')
    if not ks:
        raise CampaignError('no k: give at least one number of failed wheels')
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= len(WHEEL_IDS):
            raise CampaignError(f'k = {k!r}: between 0 and {len(WHEEL_IDS)} wheels can fail')
    unknown = [kind for kind in kinds if kind not in FAULT_KINDS]
    if unknown or not kinds:
        raise CampaignError(f'fault kinds {unknown or list(kinds)}: known kinds are '
                            f'{", ".join(FAULT_KINDS)}')
    for name, value, low in (('goal_m', goal_m, 1.0), ('cap_s', cap_s, 10.0)):
        if not (math.isfinite(value) and value >= low):
            raise CampaignError(f'{name} = {value!r}: a number >= {low} expected')
    if not 0.0 <= rock_abundance <= 0.4:
        raise CampaignError(f'rock_abundance = {rock_abundance!r}: 0 to 0.4 expected')
    runs = []
    for k in ks:
        for seed in seeds:
            rng = random.Random(f'{seed}/{k}')
            faults = sorted((Fault(w, rng.choice(kinds), round(rng.uniform(*FAULT_WINDOW_S), 2))
                             for w in rng.sample(WHEEL_IDS, k)), key=lambda f: f.at_s)
            runs.append(RunSpec(len(runs), seed, k, tuple(faults), goal_m, cap_s,
                                rock_abundance))
    return runs


def avoided_height(max_step_m: float, veto_cost: float) -> float:
    """The rock height the drive keeps away from: the step whose cost on the hazard map
    (TRAVERSABLE_MAX x the step over max_step_m) reaches the arc vote's veto_cost."""
    return max_step_m * veto_cost / TRAVERSABLE_MAX


def open_goal(goal_m: float, rocks, craters, tall_m: float, clear_m: float = 1.6,
              search_m: float = 5.0, step_m: float = 0.25) -> tuple[float, float]:
    """The nearest point to (goal_m, 0) with no crater rim or tall rock within clear_m.

    As a ground team places a goal from orbital images: on open ground, not in a crater
    or on a rock. rocks: rows of (x, y, diameter, ...); craters: rows of (x, y, diameter,
    depth); a rock counts when its height (half its diameter) is over tall_m (the height
    the drive keeps away from, avoided_height: a goal beside a rock the arcs may not come
    near cannot be reached with the rover's footprint pointing at it).
    """
    def free(x: float, y: float) -> bool:
        for cx, cy, d, *_ in craters:
            if math.hypot(x - cx, y - cy) < d / 2 + clear_m:
                return False
        for rx, ry, d, *_ in rocks:
            if d / 2 > tall_m and math.hypot(x - rx, y - ry) < d / 2 + clear_m:
                return False
        return True

    r = 0.0
    while r <= search_m + 1e-9:
        n = max(1, int(2 * math.pi * r / step_m))
        for i in range(n):
            a = 2 * math.pi * i / n
            x, y = goal_m + r * math.cos(a), r * math.sin(a)
            if free(x, y):
                return x, y
        r += step_m
    raise CampaignError(f'no open ground within {search_m} m of ({goal_m}, 0)')
