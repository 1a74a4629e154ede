"""The navigation cameras on the mast head: where a pair looks from, and what of the rover
it sees. Pure numpy; hazard/mapper.py maps their pairs beside the hazcams'.

The navcams (urdf/rover.urdf navcam_*) pan and tilt with the pancam. The drive points
them at the way on when the rear leads (docs/drive.md, The mast looks the way on),
where the hazcams, fixed to the front of the body, cannot see. A pair's camera pose is
the URDF's at the mast's joint angles measured before it; a pair taken while the mast
slews is not mapped (the angles would be a period old). Looking back over the body
they see the deck, the wheels and the ground beyond: points inside the rover's outline
are dropped as for the hazcams, and so are lines of sight through the body or a wheel
(one camera sees the rover, the other the ground beside it). Matched at half
resolution only: the pair's baseline and focal length give it at 6 m the depth step
the hazcams' half-resolution match has at 3.4 m (their full-resolution far band at
4.8 m).
"""
from __future__ import annotations

from dataclasses import replace
import math

import numpy as np

from chang_e_rover import config
from chang_e_rover.hazard.stereo import CameraModel, StereoParams, StereoPipeline
from chang_e_rover.hazard.view_steps import ViewSteps
from chang_e_rover.robot_description import rover_geometry, WHEEL_IDS

PAN, TILT = 'pancam_pan_joint', 'pancam_tilt_joint'
STILL_RAD = 1e-3        # the mast moved less than this between two joint states: still


def mast_still(before: tuple[float, float], now: tuple[float, float]) -> bool:
    """Whether the mast stood between two (pan, tilt) readings."""
    return all(abs(a - b) < STILL_RAD for a, b in zip(before, now))


def angles_before(readings, stamp_ns: int) -> tuple[float, float] | None:
    """The mast's (pan, tilt) for a pair of stamp_ns: the newest of readings ((stamp ns,
    (pan, tilt)), oldest first) older than the pair, if the mast stood still since the
    reading before it; None otherwise."""
    older = [angles for s, angles in readings if s < stamp_ns][-2:]
    if len(older) < 2 or not mast_still(*older):
        return None
    return older[-1]


class MastRig:
    """The navcam pair: its stereo pipeline, pose at the mast's angles, self-filter boxes
    and the views mapped; p is the hazard_camera section of config/rover.yaml."""

    def __init__(self, p: dict, robot, stereo: StereoParams):
        self.robot = robot
        self.params = replace(stereo, **{k: type(getattr(stereo, k))(v) for k, v in
                                         config.section(p, 'navcam.stereo').items()})
        self.pipeline: StereoPipeline | None = None
        margin = p['self_filter.margin_m']
        geo = rover_geometry(robot)
        reach = math.hypot(geo.wheel_radius, geo.wheel_width / 2) + margin   # any steering
        boxes = []
        for w in WHEEL_IDS:
            c = robot.transform_to_root(robot.joints[f'wheel_{w}_joint'].child)[:3, 3]
            boxes.append((c - [reach, reach, geo.wheel_radius + margin],
                          c + [reach, reach, geo.wheel_radius + margin]))
        # The body: grown by the margin but for its top, whose edge lies along the baseline
        # (both cameras see it on the same row); a margin there would hide metres of ground.
        body = robot.links[robot.root].visuals[0]
        half, centre = np.asarray(body.size) / 2, np.asarray(body.xyz)
        boxes.append((centre - half - margin, centre + half + [margin, margin, 0.0]))
        self.boxes = np.array(boxes)
        self.views = ViewSteps.from_params(p)

    def cameras(self, left: CameraModel, right: CameraModel) -> None:
        """Set the pair's calibration (the first one given stands)."""
        if self.pipeline is None:
            self.pipeline = StereoPipeline(left, right, self.params)

    def base_from_cam(self, pan: float, tilt: float) -> np.ndarray:
        """The left navcam's optical frame in base_link at the mast's angles."""
        return self.robot.transform_to_root('navcam_left_optical_frame', {PAN: pan, TILT: tilt})

    def eyes(self, pan: float, tilt: float) -> list[np.ndarray]:
        return [self.robot.transform_to_root(f'navcam_{s}_optical_frame',
                                             {PAN: pan, TILT: tilt})[:3, 3]
                for s in ('left', 'right')]
