"""A rover-side recording as `ros2 bag record` writes it: MCAP, profile ros2, CDR messages.

Pure Python (the mcap library). Each topic is a channel with message encoding
`cdr` and its type's `ros2msg` definition as the schema, so rosbags, Foxglove
and `ros2 bag` open the file. Messages are written as they came off the wire,
stamped with the recorder's clock on receipt (sim time in a simulation).
"""
from __future__ import annotations

from pathlib import Path

from mcap.writer import Writer

from chang_e_rover.msg_definitions import message_definition


class BagError(ValueError):
    """The recording cannot be written where it was asked to be."""


class Bag:
    """One MCAP file, opened at construction, finished by close()."""

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()
        if self.path.suffix != '.mcap':
            raise BagError(f'record path {self.path}: name an .mcap file')
        if self.path.exists():
            raise BagError(f'record path {self.path} exists: name a new file (nothing is '
                           'overwritten)')
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, 'xb')
        except OSError as exc:
            raise BagError(f'record path {self.path} cannot be written ({exc.strerror}): '
                           'name a file in a folder you can write') from exc
        self._writer = Writer(self._file)
        self._writer.start(profile='ros2', library='chang_e_rover recorder')
        self._schemas: dict[str, int] = {}
        self._channels: dict[str, int] = {}
        self.counts: dict[str, int] = {}

    def add_topic(self, topic: str, type_name: str, offered_qos: str = '') -> None:
        """Register topic (type 'pkg/msg/Type'); raises FileNotFoundError for unknown types."""
        if topic in self._channels:
            return
        if type_name not in self._schemas:
            self._schemas[type_name] = self._writer.register_schema(
                type_name, 'ros2msg', message_definition(type_name).encode())
        meta = {'offered_qos_profiles': offered_qos} if offered_qos else {}
        self._channels[topic] = self._writer.register_channel(
            topic, 'cdr', self._schemas[type_name], meta)
        self.counts[topic] = 0

    def write(self, topic: str, data: bytes, time_ns: int) -> None:
        self._writer.add_message(self._channels[topic], log_time=time_ns, data=data,
                                 publish_time=time_ns, sequence=self.counts[topic])
        self.counts[topic] += 1

    def close(self) -> None:
        if self._file.closed:
            return
        self._writer.finish()
        self._file.close()
