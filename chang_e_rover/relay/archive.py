"""The ground's archive: downlinked ROS messages into an MCAP file, images into files.

ROS messages are written as they came down (CDR), with `ros2msg` schemas built
from the installed .msg definitions, as rosbag2 writes them, so Foxglove and
the mcap readers open the file. Relay-specific records (verification reports)
go in as JSON. Compressed images are also written as .jpg/.png files (decoded
with the mcap library's own CDR reader: the ground needs no ROS install).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
import re
import sys

from mcap.records import Schema
from mcap.writer import Writer
from mcap_ros2.decoder import DecoderFactory

from chang_e_rover.relay.packets import Product

PRIMITIVES = {'bool', 'byte', 'char', 'float32', 'float64', 'int8', 'uint8', 'int16', 'uint16',
              'int32', 'uint32', 'int64', 'uint64', 'string', 'wstring'}
SEPARATOR = '=' * 80


def _msg_file(pkg: str, name: str) -> Path:
    # A sourced ROS install lists its prefixes in AMENT_PREFIX_PATH; the pip wheels
    # install share/ under the environment's prefix and do not set it.
    prefixes = [p for p in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]
    for prefix in prefixes + [sys.prefix]:
        path = Path(prefix) / 'share' / pkg / 'msg' / f'{name}.msg'
        if path.is_file():
            return path
    raise FileNotFoundError(f'no message definition for {pkg}/msg/{name} under '
                            f'{prefixes + [sys.prefix]}')


def message_definition(type_name: str) -> str:
    """Return the ros2msg definition of 'pkg/msg/Type' with its dependencies, as rosbag2 does."""
    pkg, _, name = type_name.split('/')
    text = _msg_file(pkg, name).read_text()
    out, seen, todo = [text], {f'{pkg}/{name}'}, [(pkg, text)]
    while todo:
        owner, body = todo.pop()
        for line in body.splitlines():
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            field_type = re.sub(r'\[.*\]$', '', line.split()[0])
            field_type = re.sub(r'<=\d+$', '', field_type)
            if field_type in PRIMITIVES:
                continue
            if field_type == 'Header':
                field_type = 'std_msgs/Header'
            dep_pkg, dep_name = (field_type.split('/') if '/' in field_type
                                 else (owner, field_type))
            key = f'{dep_pkg}/{dep_name}'
            if key in seen:
                continue
            seen.add(key)
            dep_text = _msg_file(dep_pkg, dep_name).read_text()
            out.append(f'{SEPARATOR}\nMSG: {key}\n{dep_text}')
            todo.append((dep_pkg, dep_text))
    return '\n'.join(out)


class Archive:
    """An MCAP file and an image folder, written as products are delivered."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / 'images').mkdir(exist_ok=True)
        self.path = self.folder / 'downlink.mcap'
        self._file = open(self.path, 'wb')
        self.writer = Writer(self._file)
        self.writer.start(profile='ros2', library='chang_e_rover ground')
        self.schemas: dict[str, int] = {}
        self.channels: dict[tuple[str, str], int] = {}
        self.counts: dict[str, int] = {}
        self.images: list[Path] = []
        self.invalid = 0
        self._image_decoder = None

    def _channel(self, product: Product) -> tuple[int, bool]:
        key = (product.topic, product.type_name)
        ros = product.type_name.count('/') == 2
        if key not in self.channels:
            if product.type_name not in self.schemas:
                if ros:
                    sid = self.writer.register_schema(
                        product.type_name, 'ros2msg',
                        message_definition(product.type_name).encode())
                else:
                    sid = self.writer.register_schema(product.type_name, 'jsonschema',
                                                      b'{"type": "object"}')
                self.schemas[product.type_name] = sid
            meta = {'invalid_products': 'flagged in the ground log'} if not ros else {}
            self.channels[key] = self.writer.register_channel(
                product.topic, 'cdr' if ros else 'json', self.schemas[product.type_name], meta)
        return self.channels[key], ros

    def write(self, product: Product, time_ns: int, record: dict | None = None) -> None:
        """Archive one product; record is its JSON form when it is not a ROS message."""
        channel, ros = self._channel(product)
        data = product.body if ros else json.dumps(record or {}).encode()
        self.writer.add_message(channel, log_time=time_ns, data=data, publish_time=time_ns,
                                sequence=self.counts.get(product.topic, 0))
        self.counts[product.topic] = self.counts.get(product.topic, 0) + 1
        if product.invalid:
            self.invalid += 1

    def write_compressed_image(self, stem: str, cdr: bytes) -> Path:
        """Write a sensor_msgs/CompressedImage (CDR) as the file it carries."""
        if self._image_decoder is None:
            name = 'sensor_msgs/msg/CompressedImage'
            schema = Schema(id=0, name=name, encoding='ros2msg',
                            data=message_definition(name).encode())
            self._image_decoder = DecoderFactory().decoder_for('cdr', schema)
        msg = self._image_decoder(cdr)
        path = self.folder / 'images' / f'{stem}.{"png" if "png" in msg.format else "jpg"}'
        path.write_bytes(bytes(msg.data))
        self.images.append(path)
        return path

    def close(self) -> None:
        self.writer.finish()
        self._file.close()
