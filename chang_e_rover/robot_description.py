"""Read the URDF files under urdf/: the one source of geometry and mass properties.

Pure Python (xml.etree): the simulator builds its MuJoCo model from this and the
drive kinematics read wheel positions and radius from it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import math
from pathlib import Path
import xml.etree.ElementTree as ET

import numpy as np

WHEEL_IDS = ('lf', 'lm', 'lr', 'rf', 'rm', 'rr')
STEERED_IDS = ('lf', 'lr', 'rf', 'rr')


class DescriptionError(ValueError):
    """A URDF file is missing or does not describe what the stack needs."""


@dataclass(frozen=True)
class Geometry:
    """One visual or collision shape: kind is box, cylinder or sphere."""

    kind: str
    size: tuple[float, ...]     # box: x y z; cylinder: radius length; sphere: radius
    xyz: tuple[float, float, float]
    rpy: tuple[float, float, float]
    rgba: tuple[float, float, float, float] | None = None


@dataclass
class Link:
    name: str
    mass: float = 0.0
    com: tuple[float, float, float] = (0.0, 0.0, 0.0)
    inertia: tuple[float, float, float, float, float, float] = (0.0,) * 6  # xx yy zz xy xz yz
    visuals: list[Geometry] = field(default_factory=list)
    collisions: list[Geometry] = field(default_factory=list)


@dataclass(frozen=True)
class Joint:
    name: str
    kind: str                   # revolute, continuous, fixed, prismatic
    parent: str
    child: str
    xyz: tuple[float, float, float]
    rpy: tuple[float, float, float]
    axis: tuple[float, float, float] = (1.0, 0.0, 0.0)
    lower: float = -math.inf
    upper: float = math.inf
    effort: float = math.inf
    velocity: float = math.inf
    mimic: tuple[str, float, float] | None = None   # (joint, multiplier, offset)


@dataclass
class Robot:
    name: str
    links: dict[str, Link]
    joints: dict[str, Joint]

    @property
    def root(self) -> str:
        children = {j.child for j in self.joints.values()}
        roots = [n for n in self.links if n not in children]
        if len(roots) != 1:
            raise DescriptionError(f'{self.name}: expected one root link, found {roots}')
        return roots[0]

    def children_of(self, link: str) -> list[Joint]:
        return [j for j in self.joints.values() if j.parent == link]

    def total_mass(self) -> float:
        return sum(link.mass for link in self.links.values())

    def transform_to_root(self, link: str, joint_positions: dict[str, float] | None = None
                          ) -> np.ndarray:
        """Return the 4x4 pose of link in the root frame at the given joint positions."""
        joint_positions = joint_positions or {}
        by_child = {j.child: j for j in self.joints.values()}
        chain = []
        while link in by_child:
            chain.append(by_child[link])
            link = by_child[link].parent
        pose = np.eye(4)
        for joint in reversed(chain):
            pose = pose @ origin_matrix(joint.xyz, joint.rpy)
            q = joint_positions.get(joint.name, 0.0)
            if q and joint.kind in ('revolute', 'continuous'):
                pose = pose @ axis_angle_matrix(joint.axis, q)
        return pose


def rpy_matrix(rpy: tuple[float, float, float]) -> np.ndarray:
    """Return the rotation matrix of URDF roll-pitch-yaw (fixed axes x, y, z)."""
    r, p, y = rpy
    cr, sr, cp, sp, cy, sy = (math.cos(r), math.sin(r), math.cos(p), math.sin(p),
                              math.cos(y), math.sin(y))
    return np.array([
        [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
        [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
        [-sp, cp * sr, cp * cr],
    ])


def origin_matrix(xyz, rpy) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, :3] = rpy_matrix(rpy)
    pose[:3, 3] = xyz
    return pose


def axis_angle_matrix(axis, angle: float) -> np.ndarray:
    a = np.asarray(axis, dtype=float)
    a = a / np.linalg.norm(a)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    pose = np.eye(4)
    pose[:3, :3] = np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * (k @ k)
    return pose


def _floats(text: str | None, n: int, what: str) -> tuple[float, ...]:
    if text is None:
        return (0.0,) * n
    try:
        values = tuple(float(v) for v in text.split())
    except ValueError as exc:
        raise DescriptionError(f'{what}: {text!r} is not {n} numbers') from exc
    if len(values) != n or not all(math.isfinite(v) for v in values):
        raise DescriptionError(f'{what}: {text!r} is not {n} finite numbers')
    return values


def _geometry(elem: ET.Element, materials: dict, where: str) -> Geometry:
    origin = elem.find('origin')
    xyz = _floats(origin.get('xyz') if origin is not None else None, 3, where)
    rpy = _floats(origin.get('rpy') if origin is not None else None, 3, where)
    shape = elem.find('geometry')
    if shape is None or len(shape) != 1:
        raise DescriptionError(f'{where}: needs exactly one geometry')
    g = shape[0]
    if g.tag == 'box':
        size = _floats(g.get('size'), 3, where)
    elif g.tag == 'cylinder':
        size = (float(g.get('radius')), float(g.get('length')))
    elif g.tag == 'sphere':
        size = (float(g.get('radius')),)
    else:
        raise DescriptionError(f'{where}: geometry {g.tag!r} is not supported (box, cylinder, sphere)')
    rgba = None
    mat = elem.find('material')
    if mat is not None:
        color = mat.find('color')
        rgba = (_floats(color.get('rgba'), 4, where) if color is not None
                else materials.get(mat.get('name')))
    return Geometry(g.tag, size, xyz, rpy, rgba)


def load_urdf(path: str | Path) -> Robot:
    """Parse a URDF file; raise DescriptionError with the reason if it is unusable."""
    path = Path(path)
    if not path.is_file():
        raise DescriptionError(f'URDF file not found: {path}')
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise DescriptionError(f'{path}: not well-formed XML: {exc}') from exc
    materials = {}
    for mat in root.findall('material'):
        color = mat.find('color')
        if color is not None:
            materials[mat.get('name')] = _floats(color.get('rgba'), 4, f'material {mat.get("name")}')
    links: dict[str, Link] = {}
    for elem in root.findall('link'):
        link = Link(elem.get('name'))
        inertial = elem.find('inertial')
        if inertial is not None:
            link.mass = float(inertial.find('mass').get('value'))
            origin = inertial.find('origin')
            link.com = _floats(origin.get('xyz') if origin is not None else None, 3, link.name)
            i = inertial.find('inertia')
            link.inertia = tuple(float(i.get(k, 0.0))
                                 for k in ('ixx', 'iyy', 'izz', 'ixy', 'ixz', 'iyz'))
        link.visuals = [_geometry(v, materials, f'{link.name} visual') for v in elem.findall('visual')]
        link.collisions = [_geometry(c, materials, f'{link.name} collision')
                           for c in elem.findall('collision')]
        links[link.name] = link
    joints: dict[str, Joint] = {}
    for elem in root.findall('joint'):
        name = elem.get('name')
        origin = elem.find('origin')
        axis = elem.find('axis')
        limit = elem.find('limit')
        mimic = elem.find('mimic')
        kind = elem.get('type')
        lim = {} if limit is None else limit.attrib
        bounded = kind in ('revolute', 'prismatic')
        joints[name] = Joint(
            name=name, kind=kind,
            parent=elem.find('parent').get('link'), child=elem.find('child').get('link'),
            xyz=_floats(origin.get('xyz') if origin is not None else None, 3, name),
            rpy=_floats(origin.get('rpy') if origin is not None else None, 3, name),
            axis=_floats(axis.get('xyz'), 3, name) if axis is not None else (1.0, 0.0, 0.0),
            lower=float(lim.get('lower', '-inf')) if bounded else -math.inf,
            upper=float(lim.get('upper', 'inf')) if bounded else math.inf,
            effort=float(lim.get('effort', 'inf')),
            velocity=float(lim.get('velocity', 'inf')),
            mimic=None if mimic is None else (mimic.get('joint'),
                                              float(mimic.get('multiplier', 1.0)),
                                              float(mimic.get('offset', 0.0))),
        )
        for end in (joints[name].parent, joints[name].child):
            if end not in links:
                raise DescriptionError(f'joint {name} names unknown link {end}')
    return Robot(root.get('name'), links, joints)


@dataclass(frozen=True)
class RoverGeometry:
    """Wheel layout in base_link at zero joint angles, read from the rover URDF."""

    wheel_radius: float
    wheel_width: float
    wheel_xy: dict[str, tuple[float, float]]   # wheel id -> (x, y) of the contact point
    steer_xy: dict[str, tuple[float, float]]   # steered id -> (x, y) of the steering axis
    wheel_offset: dict[str, float]             # steered id -> lateral offset wheel vs axis
    steer_limit: float                         # rad, symmetric
    steer_rate: float                          # rad/s
    base_height: float                         # base_link above flat ground when standing

    @property
    def track(self) -> float:
        return self.wheel_xy['lm'][1] - self.wheel_xy['rm'][1]

    @property
    def wheelbase(self) -> float:
        return self.wheel_xy['lf'][0] - self.wheel_xy['lr'][0]

    @property
    def half_length(self) -> float:
        """Return base_link to the wheels' outer edge ahead or behind, corners straight (m)."""
        return max(abs(x) for x, _ in self.wheel_xy.values()) + self.wheel_radius

    @property
    def half_width(self) -> float:
        """Return base_link to the wheels' outer side, corners straight (m)."""
        return max(abs(y) for _, y in self.wheel_xy.values()) + self.wheel_width / 2

    def outline(self, end_margin: float, side_margin: float) -> tuple[float, float]:
        """Return the wheels' outline grown by the margins: (half length, half width), m.

        To the micrometre: the URDF gives millimetres, and the noise a sum of them carries
        in its last digits must not change a count of grid cells.
        """
        return (round(self.half_length + end_margin, 6), round(self.half_width + side_margin, 6))


def rover_geometry(robot: Robot) -> RoverGeometry:
    """Derive the drive geometry from the rover description."""
    wheel_xy, steer_xy, offset = {}, {}, {}
    radius = width = None
    lowest = 0.0
    for wid in WHEEL_IDS:
        link = robot.links.get(f'wheel_{wid}')
        if link is None or not link.collisions or link.collisions[0].kind != 'cylinder':
            raise DescriptionError(f'wheel_{wid} needs a cylinder collision')
        r, w = link.collisions[0].size
        if radius is not None and (r, w) != (radius, width):
            raise DescriptionError('all six wheels must share one radius and width')
        radius, width = r, w
        p = robot.transform_to_root(f'wheel_{wid}')[:3, 3]
        wheel_xy[wid] = (float(p[0]), float(p[1]))
        lowest = min(lowest, float(p[2]))
    for wid in STEERED_IDS:
        p = robot.transform_to_root(f'steer_{wid}')[:3, 3]
        steer_xy[wid] = (float(p[0]), float(p[1]))
        offset[wid] = wheel_xy[wid][1] - steer_xy[wid][1]
    steer = robot.joints['steer_lf_joint']
    return RoverGeometry(radius, width, wheel_xy, steer_xy, offset,
                         min(-steer.lower, steer.upper), steer.velocity, radius - lowest)
