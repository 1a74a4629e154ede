"""Mutual imaging after the drive-off: each vehicle's camera pointed at the other.

Pure (no rclpy): the mission operator feeds it the rover's odometry and the
joint states, and carries out its commands. The frame is `odom`, whose origin
is the rover's place on the lander's deck (the deck geometry from the URDF, the
rover's set-back from the simulator's config), so the lander's pose in it is
known; the rover is on the ground the lander stands on (flat ground assumed
between them: odometry is planar). The angles come from imaging/pointing.py.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from chang_e_rover import config
from chang_e_rover.imaging.pointing import Mount, planar_pose
from chang_e_rover.robot_description import load_urdf, rover_geometry

TCAM = ('tcam_pan_joint', 'tcam_tilt_joint')
PANCAM = ('pancam_pan_joint', 'pancam_tilt_joint')


class MutualImaging:
    def __init__(self, settle_rad: float = 0.002):
        self.lander = load_urdf(config.urdf_path('lander.urdf'))
        self.rover = load_urdf(config.urdf_path('rover.urdf'))
        sim = config.load_params('sim.yaml', 'sim')
        deck = self.lander.transform_to_root('deck')[:3, 3]
        stand = rover_geometry(self.rover).base_height
        along = deck[0] - float(sim['rover_deck_setback_m'])
        # The lander's base (its footpads' plane) in odom: behind and below the rover's start.
        self.lander_in_odom = planar_pose(-along, 0.0, -(deck[2] + stand), 0.0)
        self.rover_z = -(deck[2] + stand) + stand       # base_link over the ground
        body = self.lander.links['base_link'].collisions[0].xyz     # the body box
        self.lander_centre = (self.lander_in_odom @ np.array([*body, 1.0]))[:3]
        self.tcam = Mount(self.lander, *TCAM, 'tcam_optical_frame')
        self.pancam = Mount(self.rover, *PANCAM, 'pancam_optical_frame')
        self.settle_rad = settle_rad
        self.aims: dict[str, tuple[float, float]] | None = None
        self.rover_pose: tuple[float, float, float] | None = None
        self.shutter_t: float | None = None

    def plan(self, x: float, y: float, yaw: float) -> dict[str, tuple[float, float]]:
        """Aim both cameras from the rover's odom pose; raises PointingError (a ValueError)."""
        rover_in_odom = planar_pose(x, y, self.rover_z, yaw)
        rover_centre = rover_in_odom[:3, 3]
        self.aims = {'tcam': self.tcam.aim(self.lander_in_odom, rover_centre),
                     'pancam': self.pancam.aim(rover_in_odom, self.lander_centre)}
        self.rover_pose = (x, y, yaw)
        return self.aims

    def commands(self) -> dict[str, dict[str, float]]:
        """Joint targets per robot, for its joint_commands topic."""
        return {'lander': dict(zip(TCAM, self.aims['tcam'])),
                'rover': dict(zip(PANCAM, self.aims['pancam']))}

    def settled(self, joints: dict[str, tuple[float, float]]) -> bool:
        """Both mounts at their targets and still (joints: name -> (position, velocity))."""
        for robot in self.commands().values():
            for name, target in robot.items():
                if name not in joints:
                    return False
                q, v = joints[name]
                if abs(q - target) > self.settle_rad or abs(v) > 1e-3:
                    return False
        return True

    def write(self, images: dict[str, np.ndarray], folder: Path | None,
              response=None) -> str:
        """Write the frames (RGB arrays by camera) and return a summary line.

        :param response: the detectors' response measured on a calibration target (the
            hazard cameras', the same detectors): the frames are colour-corrected with it;
            None (not measured yet, or not finite) writes them raw and says so.
        """
        import cv2
        from chang_e_rover.imaging.colour import correct
        (pan_l, tilt_l), (pan_r, tilt_r) = self.aims['tcam'], self.aims['pancam']
        line = (f'lander terrain camera on the rover (pan {math.degrees(pan_l):.1f} deg, tilt '
                f'{math.degrees(tilt_l):.1f} deg), rover pancam on the lander (pan '
                f'{math.degrees(pan_r):.1f} deg, tilt {math.degrees(tilt_r):.1f} deg)')
        missing = [c for c in ('tcam', 'pancam') if c not in images]
        if missing:
            return line + f'; NO FRAME from {", ".join(missing)}'
        frames = {c: images[c] for c in ('tcam', 'pancam')}
        if response is not None:
            response = np.asarray(response, dtype=np.float64)
            if response.shape != (3,) or not np.all(np.isfinite(response) & (response > 0)):
                response = None
        if response is None:
            line += '; raw colour (no detector response measured yet)'
        if folder is None:
            return line
        paths = []
        for cam, name in (('tcam', 'lander_sees_rover'), ('pancam', 'rover_sees_lander')):
            out = correct(frames[cam], response) if response is not None else frames[cam]
            path = Path(folder) / f'{name}.png'
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), out[:, :, ::-1])
            paths.append(str(path))
        return line + '; written to ' + ', '.join(paths)
