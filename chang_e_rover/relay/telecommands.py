"""Telecommand table, argument checks and the anti-replay window. Pure Python.

A telecommand body is an opcode byte followed by its arguments, big-endian, in
the layout of TELECOMMANDS. The relay accepts one only if its frame, CRC and
HMAC-SHA256 tag are good (packets.decode_uplink), its sequence number is fresh
(ReplayWindow) and its opcode and arguments are known and in range (decode).
"""
from __future__ import annotations

from dataclasses import dataclass
import math
import struct
from typing import Any, Callable

from chang_e_rover.relay.packets import PacketError
from chang_e_rover.robot_description import WHEEL_IDS

MODES = ('nominal', 'safe')
CAMERAS = ('pancam', 'tcam')


@dataclass(frozen=True)
class Opcode:
    code: int
    name: str
    layout: str                       # struct format of the arguments (big-endian)
    fields: tuple[str, ...]
    summary: str


TELECOMMANDS = (
    Opcode(0x01, 'drive_goal', '>dd', ('x_m', 'y_m'),
           'drive to the point (x, y) in odom, avoiding hazards'),
    Opcode(0x02, 'stop', '>', (), 'stop the rover now and drop its goal'),
    Opcode(0x03, 'wheel_enable', '>BB', ('wheel', 'enable'),
           'take wheel (0-5: lf lm lr rf rm rr) out of service (0) or back in (1)'),
    Opcode(0x04, 'wheel_reset', '>B', ('wheel',), 'clear a wheel\'s latched fault'),
    Opcode(0x05, 'take_panorama', '>', (), 'run the lander terrain camera panorama'),
    Opcode(0x06, 'point_camera', '>Bff', ('camera', 'pan_rad', 'tilt_rad'),
           'point camera (0 rover pancam, 1 lander tcam) to pan, tilt'),
    Opcode(0x07, 'set_mode', '>B', ('mode',),
           'set the mode: 0 nominal, 1 safe (rover stopped, housekeeping only)'),
)
BY_CODE = {op.code: op for op in TELECOMMANDS}
BY_NAME = {op.name: op for op in TELECOMMANDS}


@dataclass(frozen=True)
class Telecommand:
    seq: int
    opcode: Opcode
    args: dict[str, Any]

    @property
    def name(self) -> str:
        return self.opcode.name


@dataclass(frozen=True)
class ArgLimits:
    """Ranges the arguments must fall in; the camera limits come from the URDFs."""
    max_goal_distance_m: float
    pan_limits: dict[str, tuple[float, float]]    # camera -> (lo, hi) rad
    tilt_limits: dict[str, tuple[float, float]]


def encode_args(name: str, **kwargs: Any) -> bytes:
    """Return the body (opcode and arguments) of telecommand name."""
    if name not in BY_NAME:
        raise ValueError(f'unknown telecommand {name!r}; known: {sorted(BY_NAME)}')
    op = BY_NAME[name]
    missing = set(op.fields) ^ set(kwargs)
    if missing:
        raise ValueError(f'{name} takes {op.fields}, got {sorted(kwargs)}')
    return bytes([op.code]) + struct.pack(op.layout, *(kwargs[f] for f in op.fields))


def _check_range(name: str, value: float, lo: float, hi: float) -> None:
    if not (math.isfinite(value) and lo <= value <= hi):
        raise PacketError('bad_arguments', f'{name} = {value} outside [{lo}, {hi}]')


def decode(seq: int, body: bytes, limits: ArgLimits) -> Telecommand:
    """Parse and range-check a telecommand body; raise PacketError if it is refused."""
    if not body:
        raise PacketError('bad_length', 'telecommand without an opcode')
    op = BY_CODE.get(body[0])
    if op is None:
        raise PacketError('unknown_opcode', f'opcode {body[0]:#04x} is not in the table')
    size = struct.calcsize(op.layout)
    if len(body) - 1 != size:
        raise PacketError('bad_arguments', f'{op.name} takes {size} bytes of arguments, '
                          f'got {len(body) - 1}')
    args = dict(zip(op.fields, struct.unpack(op.layout, body[1:])))
    checks: dict[str, Callable[[], None]] = {
        'drive_goal': lambda: [
            _check_range(f, args[f], -limits.max_goal_distance_m, limits.max_goal_distance_m)
            for f in ('x_m', 'y_m')],
        'wheel_enable': lambda: (_check_range('wheel', args['wheel'], 0, len(WHEEL_IDS) - 1),
                                 _check_range('enable', args['enable'], 0, 1)),
        'wheel_reset': lambda: _check_range('wheel', args['wheel'], 0, len(WHEEL_IDS) - 1),
        'point_camera': lambda: _check_camera(args, limits),
        'set_mode': lambda: _check_range('mode', args['mode'], 0, len(MODES) - 1),
    }
    if op.name in checks:
        checks[op.name]()
    return Telecommand(seq, op, args)


def _check_camera(args: dict[str, Any], limits: ArgLimits) -> None:
    _check_range('camera', args['camera'], 0, len(CAMERAS) - 1)
    camera = CAMERAS[args['camera']]
    _check_range('pan_rad', args['pan_rad'], *limits.pan_limits[camera])
    _check_range('tilt_rad', args['tilt_rad'], *limits.tilt_limits[camera])


class ReplayWindow:
    """Sliding anti-replay window over 32-bit sequence numbers (as IPsec's, RFC 4303).

    A number is fresh if it is above the highest accepted yet by at most
    `ahead`, or at most `behind` below it and not seen. Retransmitted
    telecommands arrive out of order on a lossy uplink, so the window keeps a
    bitmap rather than demanding strictly increasing numbers.
    """

    def __init__(self, behind: int, ahead: int, highest: int = 0, bitmap: int = 0):
        self.behind, self.ahead = behind, ahead
        self.highest, self.bitmap = highest, bitmap    # bit i: highest - i was accepted

    def check(self, seq: int) -> None:
        """Raise PacketError('replay' or 'out_of_window') unless seq is fresh."""
        if seq <= 0:
            raise PacketError('out_of_window', 'sequence numbers start at 1')
        if seq > self.highest:
            if seq - self.highest > self.ahead:
                raise PacketError('out_of_window', f'seq {seq} is more than {self.ahead} '
                                  f'past the highest accepted {self.highest}')
            return
        offset = self.highest - seq
        if offset >= self.behind:
            raise PacketError('out_of_window', f'seq {seq} is older than the window '
                              f'({self.behind} below {self.highest})')
        if self.bitmap >> offset & 1:
            raise PacketError('replay', f'seq {seq} was already accepted')

    def accept(self, seq: int) -> None:
        """Record seq as used; call only after check passed."""
        if seq > self.highest:
            self.bitmap = ((self.bitmap << (seq - self.highest)) | 1) & ((1 << self.behind) - 1)
            self.highest = seq
        else:
            self.bitmap |= 1 << (self.highest - seq)
