"""The telecommand key: a shared secret in a file outside the repository. Pure Python."""
from __future__ import annotations

import os
from pathlib import Path
import secrets

from chang_e_rover.config import ConfigError

MIN_KEY_BYTES = 16


def read_key(path: str | Path) -> bytes:
    """Return the key in path (hex text); raise ConfigError if missing or weak."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f'telecommand key file not found: {path} '
                          '(make one with `chang-e-ground keygen`)')
    try:
        key = bytes.fromhex(path.read_text().strip())
    except ValueError as exc:
        raise ConfigError(f'{path}: the key must be hexadecimal text') from exc
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(f'{path}: key of {len(key)} bytes; at least {MIN_KEY_BYTES} needed')
    return key


def write_key(path: str | Path, nbytes: int = 32) -> Path:
    """Write a new random key to path, readable by its owner only."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as f:
        f.write(secrets.token_hex(nbytes) + '\n')
    return path
