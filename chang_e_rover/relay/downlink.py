"""The relay's downlink plan (config/relay.yaml, `downlink.*`) and its image products.

Pure Python, numpy and OpenCV: /lander/relay subscribes to the plan's topics and
hands images here as raw bytes and shape.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import math
from typing import Any

import cv2
import numpy as np

from chang_e_rover import config
from chang_e_rover.relay import packets
from chang_e_rover.science.instruments import VALIDATORS

# APIDs a product may not take: the relay's own telemetry, and the idle packet's
# (the 11-bit field's top value, CCSDS 133.0-B).
RESERVED_APIDS = (packets.APID_RELAY_STATUS, packets.APID_VERIFICATION)
APID_IDLE = 0x7FF


@dataclass
class PlanEntry:
    name: str
    topic: str
    type_name: str
    rate_hz: float
    apid: int
    priority: int
    safe: bool = False
    validator: str = ''
    scale: float = 1.0
    compress: str = ''
    last_t: float = -math.inf
    queued: int = 0
    invalid: int = 0
    subscription: Any = None
    done: bool = False          # sampled entries: the sample is in; unsubscribe
    latest: dict = field(default_factory=dict)   # diagnostics: newest status per name

    @property
    def every(self) -> bool:
        """rate_hz 0: every message is downlinked (science: each trace and spectrum counts)."""
        return self.rate_hz == 0

    def too_soon(self, t: float) -> bool:
        """Whether a message at t comes within 1 / rate_hz of the last one taken."""
        return not self.every and t - self.last_t < 1.0 / self.rate_hz

    @property
    def sampled(self) -> bool:
        # Images are subscribed only when one is due: a subscriber makes the camera
        # (in simulation, the renderer) produce every frame, and the plan wants few.
        return bool(self.compress)


def plan_from_params(p: dict[str, Any]) -> list[PlanEntry]:
    """Return the downlink plan of the relay's flat parameters; ConfigError if unusable."""
    plan = []
    for name in p['downlink.products']:
        sub = config.section(p, f'downlink.{name}')
        missing = {'topic', 'type', 'rate_hz', 'apid', 'priority'} - set(sub)
        if missing:
            raise config.ConfigError(f'downlink.{name} lacks {sorted(missing)}')
        entry = PlanEntry(name, sub['topic'], sub['type'], float(sub['rate_hz']),
                          int(sub['apid']), int(sub['priority']), bool(sub.get('safe')),
                          sub.get('validator', ''), float(sub.get('scale', 1.0)),
                          sub.get('compress', ''))
        if not (entry.rate_hz > 0 or (entry.rate_hz == 0 and not entry.sampled)):
            raise config.ConfigError(
                f'downlink.{name}.rate_hz={entry.rate_hz}: a rate above 0, or 0 for every '
                'message (not for images, which are sampled)')
        if entry.validator and entry.validator not in VALIDATORS:
            raise config.ConfigError(f'downlink.{name}: unknown validator {entry.validator}')
        if not 0 < entry.apid < APID_IDLE or entry.apid in RESERVED_APIDS:
            raise config.ConfigError(f'downlink.{name}: APID {entry.apid:#x} not usable')
        plan.append(entry)
    return plan


def compress_image(data: bytes, height: int, width: int, step: int, encoding: str,
                   scale: float, compress: str) -> bytes:
    """Shrink an rgb8/bgr8/mono8 image by scale and compress it (jpeg or png)."""
    channels = 3 if encoding in ('rgb8', 'bgr8') else 1
    if encoding not in ('rgb8', 'bgr8', 'mono8'):
        raise ValueError(f'image encoding {encoding!r} not supported for downlink')
    img = np.frombuffer(bytes(data), np.uint8).reshape(height, step)
    img = img[:, :width * channels].reshape(height, width, channels)
    if encoding == 'rgb8':
        img = img[:, :, ::-1]                          # OpenCV writes BGR
    if scale != 1.0:
        img = cv2.resize(img, (max(1, round(width * scale)), max(1, round(height * scale))),
                         interpolation=cv2.INTER_AREA)
    ext = '.png' if compress == 'png' else '.jpg'
    ok, out = cv2.imencode(ext, img)
    if not ok:
        raise ValueError('image compression failed')
    return out.tobytes()
