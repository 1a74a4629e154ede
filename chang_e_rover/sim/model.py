"""Build the MuJoCo model of the rover, the lander and the terrain from urdf/ and config/.

No rclpy here. Geometry and masses come from the URDF (one source); the
terrain, contact and servo figures from config/sim.yaml.

Geom groups: 0 drawn and colliding (rocks, plane, boxes), 1 visuals, 2 the
coarse terrain the cameras draw, 3 collision-only shapes and the fine
heightfield the physics uses. Cameras draw groups 0 to 2.
"""
from __future__ import annotations

from dataclasses import dataclass
import math

import mujoco
import numpy as np

from chang_e_rover.robot_description import Geometry, Link, Robot, rpy_matrix
from chang_e_rover.sim.terrain import Terrain, downsample

GROUP_SOLID, GROUP_VISUAL, GROUP_RENDER_TERRAIN, GROUP_COLLISION = 0, 1, 2, 3
CAMERA_GROUPS = (GROUP_SOLID, GROUP_VISUAL, GROUP_RENDER_TERRAIN)
# contype/conaffinity: moving robot parts collide with the static world only.
ROBOT_CONTACT = (1, 0)
WORLD_CONTACT = (0, 1)
# The lander (welded to the ground) touches both: the rover rides its deck and ramp,
# and the ramp rests on the ground. Its own parts do not touch each other (parent-child).
LANDER_CONTACT = (1, 1)
REGOLITH_RGBA = (0.55, 0.53, 0.50, 1.0)   # grey regolith, albedo about 0.12 scaled for display
ROCK_RGBA = (0.45, 0.44, 0.42, 1.0)
# Regolith and rocks carry texture at every scale (grains, pebbles, clods, shadows), which
# is what stereo matches: a brightness field of random octaves (1 to 64 texels), mean 1,
# multiplies the base colour, so the mean colour keeps its chromaticity.
TEXTURE_PX = 1024
TEXTURE_CONTRAST = 0.35       # standard deviation of the brightness field
TEXEL_M = 0.01                # texel size on the ground (the texture repeats every 10 m)


def regolith_texture(rgb, seed: int, size: int = TEXTURE_PX, faces: int = 1) -> bytes:
    """Return RGB bytes of a multi-scale speckle texture of the given base colour."""
    rng = np.random.default_rng(seed)
    field = np.zeros((size * faces, size))
    for octave in range(7):
        cell = 2 ** octave
        n = size // cell
        coarse = rng.normal(0.0, 1.0, (faces * n, n))
        field += np.kron(coarse, np.ones((cell, cell)))[:size * faces, :size] / (1 + octave) ** 0.5
    field = 1.0 + TEXTURE_CONTRAST * (field - field.mean()) / field.std()
    img = np.clip(field[..., None] * np.asarray(rgb[:3])[None, None, :] * 255, 0, 255)
    return img.astype(np.uint8).tobytes()


@dataclass(frozen=True)
class CameraSpec:
    """A camera mounted on a URDF optical frame (z forward, x right, y down)."""

    name: str          # MuJoCo camera name, e.g. hazcam_left
    robot: str         # 'rover' or 'lander'
    frame: str         # URDF link of the optical frame
    width: int
    height: int
    hfov_deg: float
    stereo_baseline_m: float = 0.0   # right camera of a pair: offset from the left along x

    @property
    def fovy_deg(self) -> float:
        fx = self.width / 2 / math.tan(math.radians(self.hfov_deg) / 2)
        return math.degrees(2 * math.atan(self.height / 2 / fx))

    @property
    def focal_px(self) -> float:
        return self.width / 2 / math.tan(math.radians(self.hfov_deg) / 2)


def _quat(matrix: np.ndarray) -> np.ndarray:
    q = np.zeros(4)
    mujoco.mju_mat2Quat(q, np.ascontiguousarray(matrix, dtype=float).ravel())
    return q


def _add_shape(body, geom: Geometry, prefix: str, visual: bool, friction: float,
               contact: tuple[int, int] = ROBOT_CONTACT) -> None:
    kind = {'box': mujoco.mjtGeom.mjGEOM_BOX, 'cylinder': mujoco.mjtGeom.mjGEOM_CYLINDER,
            'sphere': mujoco.mjtGeom.mjGEOM_SPHERE}[geom.kind]
    if geom.kind == 'box':
        size = [s / 2 for s in geom.size]
    elif geom.kind == 'cylinder':
        size = [geom.size[0], geom.size[1] / 2, 0]
    else:
        size = [geom.size[0], 0, 0]
    g = body.add_geom(type=kind, size=size, pos=list(geom.xyz), quat=_quat(rpy_matrix(geom.rpy)))
    if visual:
        g.group, g.contype, g.conaffinity = GROUP_VISUAL, 0, 0
        g.rgba = list(geom.rgba or (0.7, 0.7, 0.7, 1.0))
        g.mass = 0.0
    else:
        g.name = prefix
        g.group = GROUP_COLLISION
        g.contype, g.conaffinity = contact
        g.friction = [friction, 0.005, 0.0001]
        g.condim = 3
    g.density = 0.0


def _set_inertia(body, link: Link) -> None:
    body.explicitinertial = True
    body.mass = link.mass
    body.ipos = list(link.com)
    xx, yy, zz, xy, xz, yz = link.inertia
    body.fullinertia = [xx, yy, zz, xy, xz, yz]


def add_robot(spec: mujoco.MjSpec, robot: Robot, prefix: str, pos, yaw: float, free: bool,
              friction: float, servo_kp: float, servo_kv: float,
              position_joints: set[str], motor_joints: set[str],
              contact: tuple[int, int] = ROBOT_CONTACT,
              friction_by_link: dict[str, float] | None = None) -> None:
    """Add a URDF robot; joints in position_joints get position servos, motor_joints torque motors.

    friction_by_link overrides the contact friction of named links' collision shapes.

    Massless links become sites (frames for cameras and sensors); fixed joints
    become bodies welded to their parent.
    """
    root = spec.worldbody.add_body(name=f'{prefix}base_link', pos=list(pos),
                                   quat=_quat(rpy_matrix((0.0, 0.0, yaw))))
    if free:
        root.add_freejoint(name=f'{prefix}root')
    _fill_body(spec, robot, robot.root, root, prefix, friction, servo_kp, servo_kv,
               position_joints, motor_joints, contact, friction_by_link or {})
    for joint in robot.joints.values():
        if joint.mimic:
            leader, multiplier, offset = joint.mimic
            eq = spec.add_equality(type=mujoco.mjtEq.mjEQ_JOINT, name1=f'{prefix}{joint.name}',
                                   name2=f'{prefix}{leader}')
            eq.objtype = mujoco.mjtObj.mjOBJ_JOINT
            eq.data[:5] = [offset, multiplier, 0, 0, 0]
            eq.solref = [0.005, 1.0]


def _fill_body(spec, robot, link_name, body, prefix, friction, kp, kv, position_joints,
               motor_joints, contact, friction_by_link) -> None:
    link = robot.links[link_name]
    if link.mass > 0:
        _set_inertia(body, link)
    for geom in link.visuals:
        _add_shape(body, geom, '', True, friction)
    mu = friction_by_link.get(link_name, friction)
    for i, geom in enumerate(link.collisions):
        _add_shape(body, geom, f'{prefix}{link_name}' + (f'_{i}' if i else ''), False, mu,
                   contact)
    for joint in robot.children_of(link_name):
        child = robot.links[joint.child]
        quat = _quat(rpy_matrix(joint.rpy))
        if child.mass == 0 and joint.kind == 'fixed':
            body.add_site(name=f'{prefix}{child.name}', pos=list(joint.xyz), quat=quat)
            continue
        sub = body.add_body(name=f'{prefix}{child.name}', pos=list(joint.xyz), quat=quat)
        if joint.kind in ('revolute', 'continuous'):
            j = sub.add_joint(name=f'{prefix}{joint.name}', type=mujoco.mjtJoint.mjJNT_HINGE,
                              axis=list(joint.axis))
            j.armature = 0.01
            if joint.kind == 'revolute':
                j.range = [joint.lower, joint.upper]
                j.limited = mujoco.mjtLimited.mjLIMITED_TRUE
            if joint.name in position_joints:
                a = spec.add_actuator(name=f'{prefix}{joint.name}', target=f'{prefix}{joint.name}',
                                      trntype=mujoco.mjtTrn.mjTRN_JOINT)
                a.set_to_position(kp=kp, kv=kv)
                a.forcerange = [-joint.effort, joint.effort]
                a.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
                a.ctrlrange = [joint.lower, joint.upper] if joint.kind == 'revolute' else [-1e3, 1e3]
                a.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
            elif joint.name in motor_joints:
                a = spec.add_actuator(name=f'{prefix}{joint.name}', target=f'{prefix}{joint.name}',
                                      trntype=mujoco.mjtTrn.mjTRN_JOINT)
                a.set_to_motor()
                a.ctrlrange = [-joint.effort, joint.effort]
                a.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
        elif joint.kind != 'fixed':
            raise ValueError(f'joint kind {joint.kind} of {joint.name} is not supported')
        _fill_body(spec, robot, child.name, sub, prefix, friction, kp, kv, position_joints,
                   motor_joints, contact, friction_by_link)


def add_terrain(spec: mujoco.MjSpec, terrain: Terrain, friction: float, rock_friction: float,
                render_resolution_m: float) -> None:
    """Add ground, boxes and rocks: a fine heightfield for physics, a coarse one for cameras."""
    materials = {}
    # The steps and ramps (boxes) wear the ground's 2-D texture: a cube texture on a box
    # the size of a step is stretched into streaks along the line of sight, which leave
    # nothing for visual odometry to track on them.
    for name, rgba, kind, seed in (('regolith', REGOLITH_RGBA, mujoco.mjtTexture.mjTEXTURE_2D, 0),
                                   ('rock', ROCK_RGBA, mujoco.mjtTexture.mjTEXTURE_CUBE, 2)):
        faces = 6 if kind == mujoco.mjtTexture.mjTEXTURE_CUBE else 1
        px = TEXTURE_PX if faces == 1 else 256
        tex = spec.add_texture(name=f'{name}_tex', type=kind, width=px, height=px * faces,
                               nchannel=3)
        tex.data = regolith_texture(rgba, seed=seed, size=px, faces=faces)
        mat = spec.add_material(name=name, rgba=[1.0, 1.0, 1.0, 1.0], specular=0.0,
                                shininess=0.0, texuniform=True,
                                texrepeat=[1.0 / (px * TEXEL_M)] * 2)
        mat.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = tex.name
        materials[name] = mat.name

    def solid(geom, group=GROUP_SOLID, mu=friction, material='regolith'):
        geom.group = group
        geom.contype, geom.conaffinity = WORLD_CONTACT
        geom.friction = [mu, 0.005, 0.0001]
        geom.material = materials[material]
        geom.condim = 3

    half = terrain.size_m / 2
    if terrain.heights is None:
        solid(spec.worldbody.add_geom(name='ground', type=mujoco.mjtGeom.mjGEOM_PLANE,
                                      size=[half, half, 0.1]))
    else:
        factor = max(1, int(round(render_resolution_m / terrain.resolution_m)))
        for name, heights, group in (
                ('ground', terrain.heights, GROUP_COLLISION),
                ('ground_render', downsample(terrain.heights, factor), GROUP_RENDER_TERRAIN)):
            low, high = float(heights.min()), float(heights.max())
            span = max(high - low, 1e-3)
            hfield = spec.add_hfield(name=name, nrow=heights.shape[0], ncol=heights.shape[1],
                                     size=[half, half, span, 0.5])
            hfield.userdata = ((heights - low) / span).ravel().tolist()
            geom = spec.worldbody.add_geom(name=name, type=mujoco.mjtGeom.mjGEOM_HFIELD,
                                           hfieldname=name, pos=[0, 0, low])
            solid(geom, group)
            if group == GROUP_RENDER_TERRAIN:
                geom.contype = geom.conaffinity = 0
    for i, box in enumerate(terrain.boxes):
        # A step is a rock ledge the grousers bite into; a ramp is a regolith slope.
        solid(spec.worldbody.add_geom(name=f'feature_{i}', type=mujoco.mjtGeom.mjGEOM_BOX,
                                      size=list(box.half), pos=list(box.center),
                                      quat=_quat(rpy_matrix((0.0, box.pitch, 0.0)))),
              mu=rock_friction if box.pitch == 0.0 else friction, material='regolith')
    for i, (x, y, d, base) in enumerate(terrain.rocks):
        geom = spec.worldbody.add_geom(name=f'rock_{i}', type=mujoco.mjtGeom.mjGEOM_ELLIPSOID,
                                       size=[d / 2, d / 2, 0.5 * d], pos=[x, y, base])
        solid(geom, mu=rock_friction, material='rock')


def add_camera(spec: mujoco.MjSpec, cam: CameraSpec, prefix: str) -> None:
    """Add a camera on the site of its optical frame; MuJoCo cameras look down -z, y up."""
    site = spec.site(f'{prefix}{cam.frame}')
    if site is None:
        raise ValueError(f'no frame {cam.frame} for camera {cam.name}')
    body = site.parent
    flip = np.diag([1.0, -1.0, -1.0])   # optical (z fwd, y down) -> MuJoCo (-z fwd, y up)
    site_rot = np.zeros(9)
    mujoco.mju_quat2Mat(site_rot, np.asarray(site.quat, dtype=float))
    rot = site_rot.reshape(3, 3) @ flip
    camera = body.add_camera(name=cam.name, pos=list(site.pos), quat=_quat(rot))
    camera.fovy = cam.fovy_deg


def base_spec(timestep: float, gravity: float, contact_timeconst: float,
              contact_dampratio: float, antialias_samples: int = 4) -> mujoco.MjSpec:
    spec = mujoco.MjSpec()
    spec.default.geom.solref = [contact_timeconst, contact_dampratio]   # soft regolith
    spec.modelname = 'chang_e_4'
    spec.compiler.degree = False   # URDF angles are radians
    spec.option.timestep = timestep
    spec.option.gravity = [0.0, 0.0, -gravity]
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    spec.option.impratio = 10.0
    spec.visual.global_.offwidth = 2400    # the terrain camera is 2352 x 1728
    spec.visual.global_.offheight = 1800
    spec.visual.map.znear = 0.002   # of the model extent (~35 m): 7 cm
    spec.visual.quality.numslices = 10   # rocks are many: keep their meshes coarse
    spec.visual.quality.numstacks = 5
    spec.visual.quality.offsamples = antialias_samples
    spec.visual.headlight.ambient = [0.15, 0.15, 0.15]
    spec.visual.headlight.diffuse = [0.0, 0.0, 0.0]
    spec.visual.headlight.specular = [0.0, 0.0, 0.0]
    # The Sun: low over the horizon, as at the Chang'e 4 landing (local morning).
    sun = spec.worldbody.add_light(name='sun', pos=[0, 0, 100], dir=[0.5, 0.3, -0.55])
    sun.type = mujoco.mjtLightType.mjLIGHT_DIRECTIONAL
    sun.diffuse = [0.9, 0.9, 0.9]
    sun.castshadow = False
    return spec


def add_calibration_target(spec: mujoco.MjSpec, robot: Robot, prefix: str, link: str,
                           target, plate_rgb) -> None:
    """Draw a colour calibration target (imaging/caltarget.Target) on a robot's massless link.

    The plate is the link's URDF visual; the patches sit on its face. Matte
    materials (no specular, no emission, no reflection) under MuJoCo's lighting
    give a patch's colour = reflectance x (ambient + diffuse x cos(sun, normal)),
    the same factor for every patch and channel: the honest input to the fit.
    """
    site = spec.site(f'{prefix}{link}')
    if site is None:
        raise ValueError(f'no link {link} (a massless fixed link) to carry the target')
    body, pose = site.parent, np.eye(4)
    rot = np.zeros(9)
    mujoco.mju_quat2Mat(rot, np.asarray(site.quat, dtype=float))
    pose[:3, :3], pose[:3, 3] = rot.reshape(3, 3), site.pos

    def matte(name: str, rgb) -> str:
        mat = spec.add_material(name=f'{prefix}{name}', rgba=[*map(float, rgb), 1.0],
                                specular=0.0, shininess=0.0, reflectance=0.0, emission=0.0)
        return mat.name

    def draw(name: str, half, xyz, rgb) -> None:
        g = body.add_geom(name=f'{prefix}{name}', type=mujoco.mjtGeom.mjGEOM_BOX,
                          size=list(half), pos=list(pose[:3, :3] @ xyz + pose[:3, 3]),
                          quat=_quat(pose[:3, :3]))
        g.group, g.contype, g.conaffinity, g.mass, g.density = GROUP_VISUAL, 0, 0, 0.0, 0.0
        g.rgba = [*map(float, rgb), 1.0]
        g.material = matte(f'{name}_mat', rgb)

    for i, plate in enumerate(robot.links[link].visuals):
        draw(f'{link}_plate_{i}', [s / 2 for s in plate.size], np.asarray(plate.xyz), plate_rgb)
    half = [target.patch_m / 2, target.patch_m / 2, 0.0005]
    for name, (x, y), rgb in zip(target.names, target.centres, target.reflectance):
        draw(f'{link}_{name}', half, np.array([x, y, 0.0005]), rgb)
