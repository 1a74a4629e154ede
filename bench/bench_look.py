"""What looking costs a rover led by its rear: a kinematic model of the goal drive.

The navigator (navigation/navigator.py, as the drive controller runs it) drives a
unicycle on level ground, its twist through the hazard gate, with a map a second of
what the hazard cameras have seen so far: a wedge of their field (config/sim.yaml's
hfov_deg) from the left camera's place on the body (urdf/rover.urdf), between the
stereo's min and max range (config/rover.yaml), unseen elsewhere. No physics, no DDS,
no stereo: a wheel never slips nor is held, so the figures are the least a look costs,
not a flown figure (the flown campaign's are in docs/campaign.md). The run with lf
seized (the rear leads, and looks) is measured against the same goal with every wheel
in service (the front leads, no looks) in the same run. Writes bench/results/look.json.
  ./dev bench look [--goal-m 20] [--cap-s 1200]
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np

from results import write_results

CELL_M = 0.1
DT = 0.1


def camera_model():
    """The left hazcam's (x in base_link, half field rad, min and max range m)."""
    from chang_e_rover import config
    from chang_e_rover.robot_description import load_urdf
    robot = load_urdf(config.urdf_path('rover.urdf'))
    x = float(robot.transform_to_root('hazcam_left')[0, 3])
    sim = config.load_params('sim.yaml', 'sim')
    hazard = config.load_params('rover.yaml', 'hazard_camera')
    return (x, math.radians(sim['camera.hazcam.hfov_deg']) / 2,
            hazard['stereo.min_range_m'], hazard['stereo.max_range_m'])


def drive(goal_m: float, cap_s: float, locked: tuple[str, ...]) -> dict:
    """One goal drive; returns sim seconds to the goal (cap if not), looks, degrees turned."""
    from chang_e_rover import config
    from chang_e_rover.drive.odometry import Odometry2D
    from chang_e_rover.hazard.gate import Grid
    from chang_e_rover.navigation.navigator import Navigator
    from chang_e_rover.robot_description import load_urdf, rover_geometry, WHEEL_IDS
    geometry = rover_geometry(load_urdf(config.urdf_path('rover.urdf')))
    p = config.load_params('rover.yaml', 'drive_controller')
    cam_x, half, near, far = camera_model()
    x0, y0 = -far - 2.0, -far - 2.0
    nx, ny = int((goal_m + 2 * far + 4.0) / CELL_M), int((2 * far + 4.0) / CELL_M)
    cx, cy = np.meshgrid(x0 + (np.arange(nx) + 0.5) * CELL_M, y0 + (np.arange(ny) + 0.5) * CELL_M)
    seen = np.zeros((ny, nx), bool)
    looks = []
    nav = Navigator(geometry, p, p['max_speed_m_s'],
                    lambda t, w, what: looks.append(t) if what.startswith('no arc open') else None)
    pose = Odometry2D()
    pose.set_pose(0.0, 0.0, 0.0)
    healthy = [w for w in WHEEL_IDS if w not in locked]
    nav.set_goal(goal_m, 0.0, 0.0)
    t, turned = 0.0, 0.0
    while t < cap_s and nav.active:
        if t - nav.hazard_t >= 1.0 - 1e-9:
            ax = pose.x + cam_x * math.cos(pose.yaw)
            ay = pose.y + cam_x * math.sin(pose.yaw)
            r = np.hypot(cx - ax, cy - ay)
            off = np.angle(np.exp(1j * (np.arctan2(cy - ay, cx - ax) - pose.yaw)))
            seen |= (r >= near) & (r <= far) & (np.abs(off) <= half)
            nav.hazard(Grid(np.where(seen, 0, -1).astype(np.int8), x0, y0, CELL_M), t)
        v, omega, _ = nav.gate(t, pose, *nav.step(t, pose, healthy, lambda _t: None, 0.0,
                                                  locked))
        turned += abs(omega) * DT
        yaw = pose.yaw + omega * DT
        pose.set_pose(pose.x + v * math.cos(yaw) * DT, pose.y + v * math.sin(yaw) * DT, yaw)
        t += DT
    reached = nav.goal is not None and nav.goal.reached
    return {'s': round(t if reached else cap_s, 1), 'looks': len(looks),
            'turned': round(math.degrees(turned)), 'reached': reached}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--goal-m', type=float, default=20.0)
    ap.add_argument('--cap-s', type=float, default=1200.0)
    args = ap.parse_args()
    start = time.monotonic()
    seized = drive(args.goal_m, args.cap_s, ('lf',))
    healthy = drive(args.goal_m, args.cap_s, ())
    for what, r in (('lf seized, the rear leading', seized), ('every wheel in service', healthy)):
        print(f'{what}: {"reached" if r["reached"] else "not reached"} in {r["s"]} s, '
              f'{r["looks"]} looks, {r["turned"]} deg turned')
    print(f'({time.monotonic() - start:.0f} s of wall)')
    write_results('look', {
        'lf seized, the rear leading: s to the goal': seized['s'],
        'lf seized, the rear leading: looks': seized['looks'],
        'lf seized, the rear leading: deg turned': seized['turned'],
    }, {
        'every wheel in service: s to the goal': healthy['s'],
        'every wheel in service: looks': healthy['looks'],
        'every wheel in service: deg turned': healthy['turned'],
    }, {'goal m': args.goal_m, 'cap s': args.cap_s, 'model': 'kinematic, level ground'})


if __name__ == '__main__':
    main()
