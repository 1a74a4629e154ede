"""ROS 2 message definitions as rosbag2 stores them in MCAP (`ros2msg`), from the .msg files.

Pure Python: reads the installed share/<pkg>/msg/<Type>.msg files (a sourced ROS
install lists its prefixes in AMENT_PREFIX_PATH; the pip wheels install share/
under the environment's prefix and do not set it). Used by the ground archive
and by the rover-side recorder.
"""
from __future__ import annotations

import os
from pathlib import Path
import re
import sys

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
