"""Load the project's config/ and urdf/ files once; the one source for every number.

Pure Python: no rclpy. Files are ROS 2 parameter files (node name, then
ros__parameters), so `ros2 launch` passes the same files to the same nodes.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import yaml

# DDS (RTPS) gives domain d the UDP ports from 7400 + 250 d up: relay ports stay below.
DDS_FIRST_PORT = 7400


class ConfigError(ValueError):
    """A config file is missing, malformed or lacks a key the code needs."""


def share_dir() -> Path:
    """Return the folder holding config/, urdf/ and launch/.

    In a source checkout that is the repository root; in a colcon install it is
    share/chang_e_rover found through the ament index.
    """
    env = os.environ.get('CHANG_E_ROVER_SHARE')
    if env:
        return Path(env)
    source = Path(__file__).resolve().parent.parent
    if (source / 'config').is_dir() and (source / 'urdf').is_dir():
        return source
    try:
        from ament_index_python.packages import get_package_share_directory
        return Path(get_package_share_directory('chang_e_rover'))
    except Exception as exc:  # noqa: BLE001 - any failure means "not installed"
        raise ConfigError('cannot find config/ and urdf/: not a source checkout and '
                          'chang_e_rover is not installed in the ament index') from exc


def copy_share(folder: Path, port_shift: int, source: Path | None = None) -> Path:
    """Copy config/, urdf/ and launch/ of source (default: share_dir()) to folder with the
    relay file's UDP ports moved up by port_shift; return folder. Pointed at by
    CHANG_E_ROVER_SHARE, it is a second session's share on the same machine (test workers,
    campaign runs). A shift that moves a port out of 1024..DDS_FIRST_PORT - 1 raises
    ConfigError before anything is written."""
    import shutil
    source = Path(source) if source is not None else share_dir()
    data = yaml.safe_load((source / 'config' / 'relay.yaml').read_text())
    moved = 0
    for node in data.values():
        params = node['ros__parameters']
        for key in [k for k in params if k == 'port' or k.endswith('_port')]:
            params[key] = int(params[key]) + port_shift
            if not 1024 <= params[key] < DDS_FIRST_PORT:
                raise ConfigError(f'port shift {port_shift} moves {key} to {params[key]}: '
                                  f'relay ports stay in 1024..{DDS_FIRST_PORT - 1}, below '
                                  'the ports DDS domains use')
            moved += 1
    if moved == 0:
        raise ConfigError(f'{source}/config/relay.yaml: no port keys found to move')
    for name in ('config', 'urdf', 'launch'):
        shutil.copytree(source / name, Path(folder) / name)
    (Path(folder) / 'config' / 'relay.yaml').write_text(yaml.safe_dump(data, sort_keys=False))
    return Path(folder)


def config_path(name: str) -> Path:
    return share_dir() / 'config' / name


def urdf_path(name: str) -> Path:
    return share_dir() / 'urdf' / name


@functools.lru_cache(maxsize=None)
def load_params(file_name: str, node_name: str) -> dict[str, Any]:
    """Return the ros__parameters of node_name in config/file_name as a flat dotted dict."""
    path = config_path(file_name)
    if not path.is_file():
        raise ConfigError(f'config file not found: {path}')
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f'{path}: not valid YAML: {exc}') from exc
    try:
        params = data[node_name]['ros__parameters']
    except (KeyError, TypeError) as exc:
        raise ConfigError(f'{path}: no {node_name}.ros__parameters section') from exc
    return flatten(params)


def flatten(tree: dict[str, Any], prefix: str = '') -> dict[str, Any]:
    """Flatten nested dicts into ROS 2 dotted parameter names."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f'{prefix}{key}'
        if isinstance(value, dict):
            flat.update(flatten(value, name + '.'))
        else:
            flat[name] = value
    return flat


def section(params: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Return the keys under prefix (without it) from a flat parameter dict."""
    p = prefix + '.'
    return {k[len(p):]: v for k, v in params.items() if k.startswith(p)}


def state_dir() -> Path:
    """Return the folder for run-time state (the relay's queue, keys, ground archive).

    $CHANG_E_ROVER_STATE, else ~/.local/state/chang_e_rover; never the repository.
    """
    env = os.environ.get('CHANG_E_ROVER_STATE')
    base = Path(env) if env else Path.home() / '.local' / 'state' / 'chang_e_rover'
    base.mkdir(parents=True, exist_ok=True)
    return base


def state_path(name: str) -> Path:
    """Return name as is if absolute, else under state_dir()."""
    path = Path(name).expanduser()
    return path if path.is_absolute() else state_dir() / path
