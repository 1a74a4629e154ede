"""The ground's archive: downlinked ROS messages into MCAP files, images into files.

ROS messages are written as they came down (CDR), with `ros2msg` schemas built
from the installed .msg definitions, as rosbag2 writes them, so Foxglove,
rosbags and the mcap readers open the file. Records that are not ROS messages
(the relay's verification reports) go to a JSON-lines file beside it. Compressed
images are also written as .jpg/.png files (decoded with the mcap library's own
CDR reader: the ground needs no ROS install).

Each run of the ground writes new files, `downlink-NNNN.mcap` and
`downlink-NNNN.records.jsonl`, numbered on from the newest in the folder:
nothing is overwritten. The MCAP is written without chunks, record by record,
so that `sync()` puts every message handed over so far on disk and returns
the mark (file sizes) the ground's journal stores before it acknowledges. At
the next start `open()` cuts the marked files back to their mark (what came
after was never acknowledged and comes again) and rewrites any MCAP left
without its footer into a complete file from the records it holds.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
import time

from mcap.exceptions import McapError
from mcap.reader import make_reader
from mcap.records import Channel, Message, Schema
from mcap.stream_reader import StreamReader
from mcap.writer import Writer
from mcap_ros2.decoder import DecoderFactory

from chang_e_rover.msg_definitions import message_definition
from chang_e_rover.relay.custody import Mark
from chang_e_rover.relay.packets import Product

log = logging.getLogger('chang_e_rover.ground')
MAGIC = b'\x89MCAP0\r\n'

def _complete(path: Path) -> bool:
    """Whether an MCAP file ends with its footer and summary."""
    try:
        with open(path, 'rb') as f:
            f.seek(-len(MAGIC), os.SEEK_END)
            if f.read() != MAGIC:
                return False
            f.seek(0)
            make_reader(f).get_summary()
        return True
    except (OSError, McapError, ValueError, EOFError):
        return False


def repair(path: Path) -> int:
    """Rewrite an MCAP cut short into a complete file of the messages it holds whole."""
    tmp = path.with_suffix('.repair')
    schemas: dict[int, Schema] = {}
    channels: dict[int, Channel] = {}
    ids: dict[int, int] = {}
    count = 0
    with open(path, 'rb') as src, open(tmp, 'wb') as dst:
        out = Writer(dst, use_chunking=False)
        out.start(profile='ros2', library='chang_e_rover ground (repaired)')
        try:
            for record in StreamReader(src, skip_magic=False).records:
                if isinstance(record, Schema):
                    schemas[record.id] = record
                elif isinstance(record, Channel):
                    channels[record.id] = record
                elif isinstance(record, Message) and record.channel_id in channels:
                    if record.channel_id not in ids:
                        ch = channels[record.channel_id]
                        sc = schemas[ch.schema_id]
                        sid = out.register_schema(sc.name, sc.encoding, sc.data)
                        ids[ch.id] = out.register_channel(ch.topic, ch.message_encoding, sid,
                                                          dict(ch.metadata))
                    out.add_message(ids[record.channel_id], log_time=record.log_time,
                                    data=record.data, publish_time=record.publish_time,
                                    sequence=record.sequence)
                    count += 1
        except (McapError, EOFError, ValueError, KeyError):
            pass                    # the cut: what follows the last whole record
        out.finish()
        dst.flush()
        os.fsync(dst.fileno())
    os.replace(tmp, path)
    return count


class Archive:
    """MCAP and JSON-lines files and an image folder, written as products are delivered."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.path: Path | None = None
        self.records_path: Path | None = None
        self.schemas: dict[str, int] = {}
        self.channels: dict[tuple[str, str], int] = {}
        self.counts: dict[str, int] = {}
        self.images: list[Path] = []
        self.invalid = 0
        self._image_decoder = None
        self._file = self._records = self.writer = None
        self._log_ns = 0

    def files(self) -> list[Path]:
        """This folder's MCAP files, oldest first."""
        return sorted(self.folder.glob('downlink-*.mcap'))

    def open(self, mark: Mark | None = None) -> Archive:
        """Bring the folder back to mark (the journal's last checkpoint), then start files
        of this run."""
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / 'images').mkdir(exist_ok=True)
        if mark is not None:
            for name, size in ((mark.mcap, mark.mcap_bytes), (mark.records, mark.records_bytes)):
                path = self.folder / name
                if path.is_file() and path.stat().st_size > size:
                    with open(path, 'r+b') as f:
                        f.truncate(size)
        for path in self.files():
            if not _complete(path):
                log.warning('%s: cut short (the ground stopped without closing it); '
                            'rewritten with the %d messages it held', path, repair(path))
        numbers = [int(p.stem.split('-')[1]) for p in self.files()
                   if p.stem.split('-')[1].isdigit()]
        stem = f'downlink-{max(numbers, default=0) + 1:04d}'
        self.path = self.folder / f'{stem}.mcap'
        self.records_path = self.folder / f'{stem}.records.jsonl'
        self._file = open(self.path, 'xb')
        self._records = open(self.records_path, 'xb')
        self.writer = Writer(self._file, use_chunking=False)
        self.writer.start(profile='ros2', library='chang_e_rover ground')
        return self

    def _channel(self, product: Product) -> int:
        key = (product.topic, product.type_name)
        if key not in self.channels:
            if product.type_name not in self.schemas:
                self.schemas[product.type_name] = self.writer.register_schema(
                    product.type_name, 'ros2msg', message_definition(product.type_name).encode())
            self.channels[key] = self.writer.register_channel(
                product.topic, 'cdr', self.schemas[product.type_name])
        return self.channels[key]

    def write(self, product: Product, time_ns: int, record: dict | None = None) -> None:
        """Archive one product taken by the relay at time_ns (its clock); record is its
        JSON form when it is not a ROS message. The log time is the ground's clock on
        archiving it, never decreasing within a file (products of different APIDs come
        down interleaved by priority, and readers of an MCAP without chunk indexes need
        messages in log-time order); the publish time is the relay's."""
        self._log_ns = max(self._log_ns + 1, time.time_ns())
        if product.type_name.count('/') == 2:
            self.writer.add_message(self._channel(product), log_time=self._log_ns,
                                    data=product.body, publish_time=time_ns,
                                    sequence=self.counts.get(product.topic, 0))
        else:
            line = {'topic': product.topic, 'type': product.type_name, 'time_ns': time_ns,
                    'archived_ns': self._log_ns, 'record': record or {}}
            self._records.write(json.dumps(line).encode() + b'\n')
        self.counts[product.topic] = self.counts.get(product.topic, 0) + 1
        if product.invalid:
            self.invalid += 1

    def sync(self) -> Mark:
        """Put everything written so far on disk; return the mark of it."""
        for f in (self._file, self._records):
            f.flush()
            os.fsync(f.fileno())
        return Mark(self.path.name, self._file.tell(), self.records_path.name,
                    self._records.tell())
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

    def close(self) -> Mark | None:
        """Finish the MCAP (footer and summary); return the mark of the closed files."""
        if self.writer is None:
            return None
        self.writer.finish()
        mark = self.sync()
        self._file.close()
        self._records.close()
        self.writer = None
        return mark
