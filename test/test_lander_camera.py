"""The terrain camera panorama on the simulator: against the rendered truth, and over ROS."""
import math

import numpy as np
import pytest

from chang_e_rover import config
from chang_e_rover.imaging.caltarget import load_target
from chang_e_rover.imaging.colour import chromaticity
from chang_e_rover.lander.panorama import (
    Campaign, Frame, Layout, psnr, reduce, rotation, seam_misalignment, stitch, TargetView)
from chang_e_rover.robot_description import load_urdf
from chang_e_rover.sim.model import REGOLITH_RGBA

LANDER = config.load_params('lander.yaml', 'camera')
SIM = config.load_params('sim.yaml', 'sim')
# The simulator's regolith material: the truth the corrected colour is checked against.
REGOLITH = REGOLITH_RGBA[:3]


@pytest.fixture(scope='module')
def world():
    from chang_e_rover.sim.camera import CameraRig
    from chang_e_rover.sim.world import World
    w = World(overrides={'terrain.name': 'rocks', 'terrain.rock_abundance': 0.1})
    rig = CameraRig(w.model, w.cameras)
    yield w, rig
    rig.close()


def test_the_truth_camera_sees_what_the_terrain_camera_sees(world):
    """The free camera behind the truth panorama agrees with the mounted terrain camera."""
    from chang_e_rover.sim.camera import optical_centre, point_and_capture, render_view
    w, rig = world
    pan, tilt = 0.7, 0.3
    next(point_and_capture(w, rig, [(pan, tilt)], [1.0, 1.0, 1.0], 0.0,
                           np.random.default_rng(0)))
    mounted = rig.render(w.data, 'tcam').astype(np.float64)
    cam = w.cameras['tcam']
    yaw = float(SIM['lander.yaw'])
    free = render_view(rig, w.data, optical_centre(w, 'tcam'), yaw + pan, -tilt, cam.width,
                       cam.height, cam.fovy_deg).astype(np.float64)
    assert mounted.std() > 5.0, 'the frame shows terrain'
    assert np.abs(mounted - free).mean() < 2.0


def test_panorama_of_80_simulated_frames_against_the_true_panorama(world):
    from chang_e_rover.sim.camera import (intrinsics, optical_centre, point_and_capture,
                                          truth_panorama)
    w, rig = world
    campaign = Campaign.from_params(config.section(LANDER, 'campaign'))
    layout = Layout(LANDER['panorama.px_per_deg'], LANDER['panorama.el_top_deg'],
                    LANDER['panorama.el_bottom_deg'])
    k = intrinsics(w.cameras['tcam'])
    factor = int(k[0, 0] * math.pi / 180 // layout.px_per_deg)
    frames, raw_chroma = [], []
    for raw, pan, tilt in point_and_capture(w, rig, campaign.pointings(),
                                            SIM['camera.response_rgb'],
                                            float(SIM['camera.noise_dn']),
                                            np.random.default_rng(2)):
        assert raw.shape == (1728, 2352, 3)
        small, kk = reduce(raw, k, factor)
        frames.append(Frame(small, kk, rotation(pan, tilt), pan, tilt))
    target = TargetView.from_urdf(load_urdf(config.urdf_path('lander.urdf')), load_target())
    out = stitch(frames, layout, target, LANDER['panorama.feather_px'])
    truth_response = np.asarray(SIM['camera.response_rgb']) / max(SIM['camera.response_rgb'])
    assert np.abs(out.response - truth_response).max() < 0.02, 'response from the deck target'
    truth = truth_panorama(rig, w.data, optical_centre(w, 'tcam'), float(SIM['lander.yaw']),
                           layout)
    assert out.image.shape == truth.shape == (layout.height, layout.width, 3)
    assert out.coverage == 1.0
    quality = psnr(out.image, truth)
    shifts = seam_misalignment(frames, layout)
    print(f'PSNR {quality:.1f} dB; seams median {np.median(shifts):.2f} px, '
          f'max {shifts.max():.2f} px over {len(shifts)} overlaps; response {out.response}')
    assert quality >= 38.0, f'PSNR {quality:.1f} dB under the 38 dB aim'
    assert len(shifts) >= 100 and np.median(shifts) <= 1.0
    # The red cast: raw frames red, the panorama's regolith neutral as the truth's.
    below = np.s_[int(layout.height * 0.4):]     # ground only, no sky
    raw_c = chromaticity(np.mean([f.image.reshape(-1, 3).mean(axis=0) for f in frames
                                  if abs(f.tilt - campaign.tilts[1]) < 1e-3], axis=0))
    assert raw_c[0] / raw_c[2] > 1.5
    c = chromaticity(out.image[below].reshape(-1, 3).mean(axis=0))
    t = chromaticity(truth[below].reshape(-1, 3).mean(axis=0))
    assert np.abs(c - t).max() < 0.01


def test_take_panorama_over_ros(ros):
    """The service starts the campaign; the mount slews, the camera fires 80 times, the
    panorama comes out on lander/panorama and as a PNG; a second request meanwhile is refused."""
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import Image
    from std_srvs.srv import Trigger

    from chang_e_rover import graph, runner
    from chang_e_rover.ros_common import LATCHED_QOS, STATE_QOS
    specs = [graph.find('/sim'), graph.find('/lander/camera')]
    # Paced: with no per-step node in the loop the simulator would run free, and the mount's
    # slew, outside the loop, is judged in sim time (slew_timeout_s) by a node it would outrun.
    nodes = runner.build_nodes(specs, {'sim': {'real_time_factor': 4.0}}, context=ros.context)
    for node in nodes:
        ros.add(node)
    camera = nodes[1]
    probe = ros.node('operator')
    got, diags = [], []
    probe.create_subscription(Image, '/lander/panorama', got.append, LATCHED_QOS)
    probe.create_subscription(
        DiagnosticArray, '/diagnostics',
        lambda m: diags.extend(s for s in m.status if s.name == 'lander/camera'), STATE_QOS)
    client = probe.create_client(Trigger, '/lander/camera/take_panorama')
    ros.spin_until(lambda: client.service_is_ready()
                   and camera.capture_client.service_is_ready(), 30, 'services')

    def call():
        future = client.call_async(Trigger.Request())
        ros.spin_until(future.done, 30, 'the service answer')
        return future.result()

    first = call()
    assert first.success, first.message
    second = call()
    assert not second.success and 'already running' in second.message
    failed = lambda: [s.message for s in diags if 'failed' in s.message]  # noqa: E731
    ros.spin_until(lambda: got or failed(), 600, 'the panorama')
    assert not failed(), failed()
    pano = got[0]
    assert (pano.width, pano.height, pano.encoding) == (camera.layout.width,
                                                       camera.layout.height, 'rgb8')
    assert camera.last_path is not None and camera.last_path.is_file()
    img = np.frombuffer(bytes(pano.data), np.uint8).reshape(pano.height, pano.width, 3)
    ground = img[int(pano.height * 0.4):].reshape(-1, 3).mean(axis=0)
    c = chromaticity(ground)
    assert np.abs(c - chromaticity(REGOLITH)).max() < 0.02, f'regolith colour restored: {c}'
    ros.spin_until(lambda: any('panorama' in s.message for s in diags), 10, 'diagnostics')
