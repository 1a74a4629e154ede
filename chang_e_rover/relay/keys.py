"""The telecommand key: a shared secret in a file outside the repository. Pure Python.

A key file holds the key as hex text and is open to its owner only (mode 0600):
one that the group or others may read is refused, as ssh refuses such a private
key. While a key is rotated the relay holds two (KeyRing; the ground procedure
is in docs/relay.md, "Key rotation").
"""
from __future__ import annotations

from dataclasses import dataclass
import os
from pathlib import Path
import secrets

from chang_e_rover.config import ConfigError
from chang_e_rover.relay.packets import PacketError

MIN_KEY_BYTES = 16
PRIVATE_MODE = 0o600


def read_key(path: str | Path) -> bytes:
    """Return the key in path (hex text); raise ConfigError if missing, open to others or weak."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f'telecommand key file not found: {path} '
                          '(make one with `chang-e-ground keygen`)')
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigError(f'{path}: the telecommand key is open to group or others (mode '
                          f'{mode:04o}); it must be private to its owner: chmod 600 {path}')
    try:
        key = bytes.fromhex(path.read_text().strip())
    except ValueError as exc:
        raise ConfigError(f'{path}: the key must be hexadecimal text') from exc
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(f'{path}: key of {len(key)} bytes; at least {MIN_KEY_BYTES} needed')
    return key


def write_key(path: str | Path, nbytes: int = 32) -> Path:
    """Write a new random key to path, readable by its owner only (also when replacing one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    # The mode of os.open applies only to a new file: a replaced key keeps its old mode.
    os.fchmod(fd, PRIVATE_MODE)
    with os.fdopen(fd, 'w') as f:
        f.write(secrets.token_hex(nbytes) + '\n')
    return path


@dataclass(frozen=True)
class KeyRing:
    """The keys the relay checks uplink tags with: the current one and, in a rotation, the next.

    The next key is good for every uplink packet. The current key is good for
    acknowledgements and for telecommands numbered below `next_from_seq`, until
    the relay accepts a telecommand numbered `next_from_seq` or above (which the
    next key must sign); from then on it is refused. `highest`, the replay
    window's highest accepted number, is kept in the relay's store, so a
    restarted relay knows the current key is retired.
    """
    current: bytes
    next: bytes | None = None
    next_from_seq: int = 0

    def __post_init__(self):
        if not self.current or (self.next is not None and not self.next):
            raise ValueError('the telecommand key is empty')
        if self.next is not None and self.next_from_seq < 1:
            raise ConfigError(f'next_key_from_seq is {self.next_from_seq}: with a next key it '
                              'must be the first telecommand sequence number it signs (>= 1)')

    @property
    def keys(self) -> tuple[bytes, ...]:
        """The keys to try, the next first (a key file copied over the current matches it)."""
        return (self.current,) if self.next is None else (self.next, self.current)

    def retired(self, highest: int) -> bool:
        """Whether the current key is refused, given the highest telecommand accepted."""
        return self.next is not None and highest >= self.next_from_seq

    def check(self, key: bytes, telecommand: bool, seq: int, highest: int) -> None:
        """Raise PacketError('bad_tag') if key may not sign this uplink packet now."""
        if self.next is None or key == self.next:
            return
        if self.retired(highest):
            raise PacketError('bad_tag', 'signed with the retired key: a telecommand numbered '
                              f'{self.next_from_seq} or above came with the next key')
        if telecommand and seq >= self.next_from_seq:
            raise PacketError('bad_tag', f'telecommand {seq} signed with the current key; from '
                              f'{self.next_from_seq} on the next key signs')

    def describe(self, highest: int) -> str:
        """One line for diagnostics: which keys are good now."""
        if self.next is None:
            return 'one key'
        if self.retired(highest):
            return 'next key only (current retired)'
        return f'current and next; current retired by telecommand {self.next_from_seq}'


def load_key_ring(key_file: str | Path, next_key_file: str | Path | None,
                  next_from_seq: int) -> KeyRing:
    """Read the relay's key and, when rotating, the next one; raise ConfigError if unusable."""
    if next_key_file is None and next_from_seq:
        raise ConfigError(f'next_key_from_seq is {next_from_seq} but there is no next_key_file')
    current = read_key(key_file)
    if next_key_file is None:
        return KeyRing(current)
    return KeyRing(current, read_key(next_key_file), next_from_seq)
