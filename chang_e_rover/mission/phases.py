"""The mission's phase machine: which phase runs, when it ends, which comes next.

Pure Python, no rclpy: mission/mission_node.py keeps an `Inputs` current from its
topics (and the simulator operator's ground truth), calls update() every period
and carries out the actions it returns. Phases, in order (docs/mission.md):

1. deploy       (rover on the lander's deck) the lander's sequencer armed, until it
                reports COMPLETE; a wheel latching a fault meanwhile is reset
2. mutual       (after a deployment) each vehicle's camera on the other, a frame each
3. panorama     the lander's panorama asked for (through the ground when there is one)
4. heading      a point turn to the set heading (plan.SetHeading)
5. traverse     the scripted velocity legs (plan.traverse)
6. fault_drive  a goal straight ahead; a wheel fault injected on the way
7. recover      (with a crossing) the fault cleared, the wheel reset from the ground
8. crossing     a goal outward from the lander into the rock field
9. downlink     (with a ground station) until the last goal's completion report and
                everything the relay had queued are on the ground
then done. Every wait has its timeout. Times are the caller's sim seconds (the space
link and the ground station run on the simulator's clock too).
"""
from __future__ import annotations

import math
from typing import Any

from chang_e_rover.mission.io import Action, Inputs   # noqa: F401 - the node's and tests' import
from chang_e_rover.mission.plan import (Crossing, FaultDrive, PlanClock, SetHeading,
                                        usual_remaining_s)
from chang_e_rover.navigation.goal_status import state_of

PHASES = ('deploy', 'mutual', 'panorama', 'heading', 'traverse', 'fault_drive', 'recover',
          'crossing', 'downlink', 'done')
MUTUAL_TURN_RATE = 0.1       # rad/s, for MUTUAL_TURN_S: 0.3 rad (17 deg)
MUTUAL_TURN_S = 3.0
MUTUAL_TURN_SETTLE_S = 2.0
AIM_TIMEOUT_S = 120.0     # the cameras' mounts to reach their aims
FRAMES_TIMEOUT_S = 30.0      # both frames to arrive after the shutter
DEPLOY_RESET_DELAY_S = 2.0          # a faulted wheel's telemetry clear before its reset
RESET_RETRY_S = 5.0                 # another reset when the last did not take
FIRST_RESET_S = 1.0                 # after the fault's clearing: its telemetry clear first
PANORAMA_PROGRESS_S = 80.0          # the panorama's usual duration, for the progress share
PROGRESS_PERIOD_S = 10.0


class MissionPhases:
    """The mission's phases in order. update() once per period; it returns actions."""

    def __init__(self, fault_drive: FaultDrive | None = None, crossing: Crossing | None = None,
                 ground: bool = False, mutual: Any = None, deploy_timeout_s: float = 1500.0,
                 panorama_timeout_s: float = 600.0, downlink_wait_s: float = 60.0,
                 set_heading: SetHeading | None = None, plan: PlanClock | None = None):
        """:param mutual: a lander.mutual.MutualImaging, or None for no deployment."""
        for name, value in (('deploy_timeout_s', deploy_timeout_s),
                            ('panorama_timeout_s', panorama_timeout_s),
                            ('downlink_wait_s', downlink_wait_s)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f'{name} must be finite and > 0, got {value}')
        self.fault_drive = fault_drive or FaultDrive()
        self.crossing, self.ground, self.mutual = crossing, ground, mutual
        self.deploy_timeout_s, self.panorama_timeout_s = deploy_timeout_s, panorama_timeout_s
        self.downlink_wait_s = downlink_wait_s
        self.set_heading = set_heading or SetHeading()
        self.plan = plan or PlanClock()
        self.phase = 'deploy' if mutual is not None else 'panorama'
        self.phase_t: float | None = None
        self.start_t: float | None = None
        self.results: dict[str, Any] = {}
        self.wheels: dict[str, tuple[str, str]] = {}     # id: (state, fault)
        self.deploy_resets: list[str] = []
        self.traverse_offset: tuple[float, float] | None = None
        self._reset_due: dict[str, float] = {}
        self._turn_until: float | None = None
        self._heading_done: float | None = None
        self._downlink_t = 0.0
        self._last_progress = -math.inf
        self._out: list[Action] = []

    @property
    def finished(self) -> bool:
        return self.phase == 'done'

    # ---- public ------------------------------------------------------------------------
    def update(self, inp: Inputs, t: float) -> list[Action]:
        """Run the current phase at sim time t; nothing before the first ground truth."""
        if inp.truth is None or self.finished:
            return []
        if self.start_t is None:
            self.start_t = self.phase_t = t
        self._out = []      # the phase's actions, in order
        getattr(self, f'_{self.phase}')(inp, t)
        return self._out

    def wheel_status(self, wheel: str, state: str, fault: str, stamp: float,
                     t: float) -> list[Action]:
        """A wheel unit's diagnostics: state, fault, the stamp it reported them at (s)."""
        self._out = []
        was = self.wheels.get(wheel, ('', ''))[0]
        if state == 'FAULT' and was != 'FAULT':
            if self.phase == 'deploy':
                self._reset_due.setdefault(wheel, t + DEPLOY_RESET_DELAY_S)
                self._say(f'wheel {wheel} reports FAULT {fault} during the deployment: the '
                          'ground will reset it')
            else:
                # the failure the mission injects, not a fault from before it; when the
                # unit reported it (its stamp), as the report can be queued behind others
                if self.phase == 'fault_drive' and 'injected' in self.results and \
                        wheel == self.fault_drive.wheel:
                    self.results.setdefault('detected', (wheel, fault, stamp or t))
                self._say(f'wheel {wheel} reports FAULT {fault}: isolated')
        elif state == 'ENABLED':
            self._reset_due.pop(wheel, None)
        self.wheels[wheel] = (state, fault)
        return self._out

    # ---- phases ------------------------------------------------------------------------
    def _deploy(self, inp: Inputs, t: float) -> None:
        r = self.results
        if 'deploy_asked' not in r:
            if 'sequencer' in inp.ready:
                self._emit('start_sequencer')
                r['deploy_asked'] = t
            return
        waited = t - r['deploy_asked']
        for wheel, due in list(self._reset_due.items()):
            if t >= due and f'reset_{wheel}' in inp.ready:
                self._reset_due[wheel] = t + RESET_RETRY_S
                self.deploy_resets.append(wheel)
                self._emit('reset_wheel', wheel, True)
        if inp.sequencer.get('state') == 'COMPLETE' or waited > self.deploy_timeout_s:
            r['deploy_s'] = waited
            r['deployed'] = inp.sequencer.get('state') == 'COMPLETE'
            r['deploy_truth'] = inp.truth
            self._enter('mutual', t)
            return
        self._progress(inp, t, f'deploy: {inp.sequencer.get("step", "?")}',
                       min(1.0, waited / self.deploy_timeout_s))

    def _mutual(self, inp: Inputs, t: float) -> None:
        m = self.mutual
        if m.aims is None:
            if inp.odom_pose is None:
                return
            if self._turn_until is not None and t < self._turn_until + MUTUAL_TURN_SETTLE_S:
                self._emit('cmd', 0.0, MUTUAL_TURN_RATE if t < self._turn_until else 0.0)
                return
            try:
                m.plan(*inp.odom_pose)
            except ValueError as exc:
                if self._turn_until is None and 'out of reach' in str(exc):
                    # The park can leave the lander right behind the rover, where the
                    # pancam's pan stops short of it: turn a little and aim again, once.
                    self._turn_until = t + MUTUAL_TURN_S
                    self._say(f'mutual imaging: {exc}; turning the rover '
                              f'{MUTUAL_TURN_RATE * MUTUAL_TURN_S:.2f} rad and aiming again')
                    return
                self.results['mutual'] = f'not possible: {exc}'
                self._enter('panorama', t)
                return
            self._emit('aim', m.commands())
            return
        if m.shutter_t is None:
            if m.settled(inp.joints) and 'capture' in inp.ready:
                m.shutter_t = t
                self._emit('capture')
            elif t - self.phase_t > AIM_TIMEOUT_S:
                self.results['mutual'] = f'cameras did not settle in {AIM_TIMEOUT_S:.0f} s'
                self._enter('panorama', t)
            return
        if inp.frames == 2 or t - m.shutter_t > FRAMES_TIMEOUT_S:
            self._emit('write_mutual')
            self._enter('panorama', t)

    def _panorama(self, inp: Inputs, t: float) -> None:
        r = self.results
        if 'panorama_asked' not in r:
            if not (inp.link_up if self.ground else 'panorama' in inp.ready):
                return                  # the link, or the service, is not up yet
            self._emit('request_panorama')
            r['panorama_asked'] = t
            return
        waited = t - r['panorama_asked']
        if inp.panorama or waited > self.panorama_timeout_s:
            r['panorama_s'] = waited
            if not inp.panorama:
                self._say(f'no panorama after {waited:.0f} s; going on without it')
            self._enter('heading', t)
            return
        self._progress(inp, t, 'panorama', min(1.0, waited / PANORAMA_PROGRESS_S))

    def _heading(self, inp: Inputs, t: float) -> None:
        """Turn in place to the set heading (odometry yaw), so the legs after it repeat."""
        sh = self.set_heading
        if inp.odom_pose is None:
            return
        elapsed = t - self.phase_t
        yaw = inp.odom_pose[2]
        if self._heading_done is None:
            rate = sh.rate(yaw)
            if rate is not None and elapsed < sh.timeout_s:
                self._emit('cmd', 0.0, rate)
                self._progress(inp, t, 'set heading', min(1.0, elapsed / sh.timeout_s))
                return
            self._heading_done = t
            self.results['heading'] = (yaw, elapsed)
            self._say(f'heading {math.degrees(yaw):.1f} deg (set '
                      f'{math.degrees(sh.heading_rad):.0f} deg) after {elapsed:.0f} s'
                      + ('' if rate is None else ': timed out, going on from here'))
        self._emit('cmd', 0.0, 0.0)
        if t - self._heading_done >= sh.settle_s:
            self._enter('traverse', t)

    def _traverse(self, inp: Inputs, t: float) -> None:
        elapsed = t - self.phase_t
        if self.traverse_offset is None and inp.odom_pose is not None:
            # Distance and odometry drift count from here (the deployment drove too).
            self._emit('restart_meter')
            x, y, _ = inp.truth
            self.traverse_offset = (inp.odom_pose[0] - x, inp.odom_pose[1] - y)
        leg = self.plan.leg_at(elapsed)
        if leg is None:
            self._emit('cmd', 0.0, 0.0)
            self.results['traverse_odom_error'] = self._odom_error(inp)
            self.results['traverse_distance'] = inp.distance_m
            self._start_fault_drive(inp, t)
            return
        self._emit('cmd', leg.v_m_s, leg.omega_rad_s)
        self._progress(inp, t, leg.label, elapsed / self.plan.total_s)

    def _start_fault_drive(self, inp: Inputs, t: float) -> None:
        fd = self.fault_drive
        ox, oy, yaw = inp.odom_pose if inp.odom_pose else (0.0, 0.0, 0.0)
        # straight ahead along the rover's heading (odometry)
        gx, gy = ox + fd.distance_m * math.cos(yaw), oy + fd.distance_m * math.sin(yaw)
        self._emit('goal', gx, gy, 'fault_drive')
        self.results['goal_odom'] = (gx, gy)
        # the true goal: the same displacement from where the rover truly is
        tx, ty, _ = inp.truth
        self.results['goal_true'] = (tx + (gx - ox), ty + (gy - oy))
        self._enter('fault_drive', t)
        self._say(f'goal drive: {fd.distance_m:.1f} m ahead; {fd.fault} will be injected on '
                  f'wheel {fd.wheel} {fd.inject_after_s:.0f} s after the rover takes the goal up')

    def _fault_drive(self, inp: Inputs, t: float) -> None:
        fd, r = self.fault_drive, self.results
        elapsed = t - self.phase_t
        # The goal reaches the rover through the relay seconds to tens of seconds after it
        # is sent: the failure comes inject_after_s into the drive itself, mid-traverse.
        gx, gy = r['goal_odom']
        if 'goal_active' not in r and state_of(inp.goal_status, gx, gy).under_way:
            r['goal_active'] = t
        active = r.get('goal_active')
        if active is not None and t - active >= fd.inject_after_s and 'injected' not in r:
            r['injected'] = t
            self._emit('inject_fault', fd.wheel, fd.fault)
            self._say(f't={t - self.start_t:6.1f} s  injected {fd.fault} on wheel {fd.wheel}')
        self._progress(inp, t, 'goal drive', min(1.0, elapsed / fd.timeout_s))
        reached = state_of(inp.goal_status, gx, gy).arrived
        if reached or elapsed > fd.timeout_s:
            r['reached'] = reached
            r['short'] = inp.goal_status.short_by_m if reached else 0.0
            r['goal_drive_end'] = inp.truth
            r['goal_drive_distance'] = inp.distance_m
            r['healthy_at_arrival'] = inp.healthy or '?'
            if self.crossing is not None:
                self._start_recover(t)
            else:
                self._end_drives(inp, t)

    def _end_drives(self, inp: Inputs, t: float) -> None:
        self.results['sim_s'] = t - self.start_t
        if not self.ground:
            self._enter('done', t)
            self._emit('finish')
        else:
            self._enter('downlink', t)
            self._downlink_t = t
            self._emit('await_downlink')

    def _start_recover(self, t: float) -> None:
        wheel = self.fault_drive.wheel
        self._emit('clear_fault', wheel)
        self.results['recover_t'] = t
        self._enter('recover', t)
        self._say(f't={t - self.start_t:6.1f} s  fault on wheel {wheel} cleared in the '
                  'simulator; the ground will reset the wheel')

    def _recover(self, inp: Inputs, t: float) -> None:
        wheel, r = self.fault_drive.wheel, self.results
        elapsed = t - self.phase_t
        if self.wheels.get(wheel, ('', ''))[0] == 'ENABLED' and inp.healthy == '6':
            r['recovered'] = (elapsed, inp.healthy)
            self._start_crossing(inp, t)
            return
        if elapsed > self.crossing.reset_timeout_s:
            r['recovered'] = (None, inp.healthy or '?')
            self._start_crossing(inp, t)
            return
        if elapsed < r.get('reset_due', FIRST_RESET_S):
            return
        if self.ground:
            # One telecommand at a time (the ground retransmits until it is accepted);
            # another only once the rover has refused the last (the wheel not yet clear).
            if inp.reset_tc in ('pending', 'completed'):
                return              # completed: the wheel's diagnostics will say so
            self._emit('reset_tc', wheel)
        elif f'reset_{wheel}' in inp.ready:
            self._emit('reset_wheel', wheel, False)
        r['reset_due'] = elapsed + RESET_RETRY_S
        r['resets_sent'] = r.get('resets_sent', 0) + 1

    def _start_crossing(self, inp: Inputs, t: float) -> None:
        cr, r = self.crossing, self.results
        ox, oy, _ = inp.odom_pose if inp.odom_pose else (0.0, 0.0, 0.0)
        # Outward from the lander (the odom origin is the rover's place on its deck):
        # the open ground around it ends keep_clear_m out, and the field begins.
        bearing = math.atan2(oy, ox)
        distance = cr.distance_to_edge(ox, oy, bearing)
        gx, gy = ox + distance * math.cos(bearing), oy + distance * math.sin(bearing)
        r['crossing_goal_odom'] = (gx, gy)
        r['crossing_distance'] = distance
        tx, ty, _ = inp.truth
        r['crossing_goal_true'] = (tx + gx - ox, ty + gy - oy)
        r['crossing_start'] = (tx, ty)
        self._emit('goal', gx, gy, 'crossing')
        self._enter('crossing', t)

    def _crossing(self, inp: Inputs, t: float) -> None:
        cr, r = self.crossing, self.results
        elapsed = t - self.phase_t
        self._progress(inp, t, 'rock field', min(1.0, elapsed / cr.timeout_s))
        gx, gy = r['crossing_goal_odom']
        reached = state_of(inp.goal_status, gx, gy).arrived
        if reached or elapsed > cr.timeout_s:
            r['crossing_reached'] = reached
            r['crossing_short'] = inp.goal_status.short_by_m if reached else 0.0
            r['crossing_s'] = elapsed
            self._end_drives(inp, t)

    def _downlink(self, inp: Inputs, t: float) -> None:
        if inp.downlinked or t - self._downlink_t > self.downlink_wait_s:
            self._enter('done', t)
            self._emit('finish')

    # ---- helpers -----------------------------------------------------------------------
    def _odom_error(self, inp: Inputs) -> float | None:
        """Odometry drift over the traverse: its error now less its error at the start."""
        if inp.odom_pose is None:
            return None
        x, y, _ = inp.truth
        ox, oy = self.traverse_offset or (0.0, 0.0)
        return math.hypot(inp.odom_pose[0] - x - ox, inp.odom_pose[1] - y - oy)

    def _progress(self, inp: Inputs, t: float, label: str, share: float) -> None:
        if t - self._last_progress >= PROGRESS_PERIOD_S:
            self._last_progress = t
            x, y, _ = inp.truth
            o = inp.odom_pose
            odom = '' if o is None else f'  odom ({o[0]:6.2f}, {o[1]:6.2f})'
            self._emit('progress', f'[mission] t={t - self.start_t:6.1f} s  {label:<16} true '
                       f'({x:6.2f}, {y:6.2f}){odom}  {100 * share:3.0f} %',
                       self.remaining_s(share))

    def remaining_s(self, share: float) -> float:
        """Sim seconds the mission usually has left, the current phase share done."""
        skipped = {'mutual'} if self.mutual is None else set()
        skipped |= {'recover', 'crossing'} if self.crossing is None else set()
        skipped |= {'downlink'} if not self.ground else set()
        return usual_remaining_s(PHASES, self.phase, share, skipped, self.plan.total_s)

    def _enter(self, phase: str, t: float) -> None:
        self.phase, self.phase_t = phase, t

    def _emit(self, kind: str, *value) -> None:
        self._out.append(Action(kind, value))

    def _say(self, text: str) -> None:
        self._emit('say', f'[mission] {text}')
