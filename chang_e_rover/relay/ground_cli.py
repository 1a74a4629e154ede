"""`chang-e-ground`: the ground station (and `link`, the simulated space link).

    chang-e-ground keygen                  write the telecommand key (state folder)
    chang-e-ground run [--seconds N] [--command "drive_goal x_m=5 y_m=0"] [--until-complete]
                                           receive, archive, show link and queue state;
                                           telecommands from --command and from stdin
    chang-e-ground link                    run the simulated space link alone

Figures and ports come from config/relay.yaml; state lives under
$CHANG_E_ROVER_STATE (default ~/.local/state/chang_e_rover).
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
import select
import sys
import time
from typing import Any

from chang_e_rover import config
from chang_e_rover.relay.archive import Archive
from chang_e_rover.relay.clock import LinkClock
from chang_e_rover.relay.endpoint import COMPLETED, REPORT_NAMES
from chang_e_rover.relay.ground import GroundStation
from chang_e_rover.relay.keys import read_key, write_key
from chang_e_rover.relay.link import ChannelConfig, LinkSimulator
from chang_e_rover.relay.telecommands import BY_NAME

CONFIG = 'relay.yaml'


def link_config(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the link's parameters: its section, and what it shares with the endpoints.

    The link listens where the relay and the ground send and carries at the rates they
    pace to; those figures are theirs (sections relay and ground) and named only there.
    """
    relay = config.load_params(CONFIG, 'relay')
    ground = config.load_params(CONFIG, 'ground')
    shared = {'relay_side_port': relay['link_port'], 'ground_side_port': ground['link_port'],
              'down.rate_bps': relay['downlink_rate_bps'],
              'up.rate_bps': ground['uplink_rate_bps']}
    own = config.load_params(CONFIG, 'link')
    named_twice = sorted(shared.keys() & own.keys())
    if named_twice:
        raise config.ConfigError(f'{CONFIG}: link.{named_twice[0]} repeats a figure of the '
                                 'relay or ground section; the link reads it from there')
    p = {**own, **shared}
    p.update(overrides or {})
    return p


def make_link(overrides: dict[str, Any] | None = None,
              clock: LinkClock | None = None) -> LinkSimulator:
    """Build the space link from config/relay.yaml (link section), with overrides, timed
    on clock (the wall clock if None)."""
    p = link_config(overrides)
    relay = config.load_params(CONFIG, 'relay')
    ground = config.load_params(CONFIG, 'ground')
    flat = [float(x) for x in p['outages']]
    if len(flat) % 2:
        raise config.ConfigError('link.outages must be pairs of [start, end] seconds')
    outages = [(a, b) for a, b in zip(flat[::2], flat[1::2]) if b > a]
    common = dict(loss=p['loss'], duplicate=p['duplicate'], reorder=p['reorder'],
                  reorder_delay_s=p['reorder_delay_s'], bit_error=p['bit_error'],
                  buffer_bytes=int(p['buffer_bytes']), outages=outages)
    down = ChannelConfig(p['down.rate_bps'], p['down.delay_s'], **common)
    up = ChannelConfig(p['up.rate_bps'], p['up.delay_s'], **common)
    return LinkSimulator(down, up, relay['port'], ground['port'], p['relay_side_port'],
                         p['ground_side_port'], seed=int(p['seed']), host=relay['host'],
                         clock=clock)


def make_ground(archive: bool = True, clock: LinkClock | None = None,
                **overrides: Any) -> GroundStation:
    """Build the ground station from config/relay.yaml (ground section), timed on clock
    (the wall clock if None)."""
    p = dict(config.load_params(CONFIG, 'ground'))
    p.update(overrides)
    state = config.state_path('ground')
    return GroundStation(
        read_key(config.state_path(p['key_file'])), p['port'], (p['host'], p['link_port']),
        p['uplink_rate_bps'], state,
        archive=Archive(config.state_path(p['archive_dir'])) if archive else None,
        ack_period_s=p['ack_period_s'], ack_max_runs=p['ack_max_runs'],
        tail_wait_s=p['tail_wait_s'], tc_retry_s=p['tc_retry_s'],
        tc_max_tries=p['tc_max_tries'], host=p['host'], clock=clock)


def parse_command(text: str) -> tuple[str, dict[str, Any]]:
    """Parse 'name key=value ...' into a telecommand name and typed arguments."""
    words = text.split()
    if not words or words[0] not in BY_NAME:
        raise ValueError(f'unknown telecommand in {text!r}; known: {sorted(BY_NAME)}')
    op = BY_NAME[words[0]]
    args: dict[str, Any] = {}
    for word in words[1:]:
        key, sep, value = word.partition('=')
        if not sep or key not in op.fields:
            raise ValueError(f'{op.name} takes {", ".join(op.fields) or "no arguments"}')
        args[key] = float(value) if op.layout[1 + op.fields.index(key)] in 'fd' else int(value)
    return op.name, args


def status_line(ground: GroundStation) -> str:
    s = ground.summary()
    apids = ' '.join(f'{a}:{v["products"]}' for a, v in s['apids'].items())
    st = ground.status
    relay = ('relay silent' if st is None else
             f'relay queue {st.queued_packets} pkts/{st.queued_bytes} B, mode {st.mode}, '
             f'tc ok {st.tc_accepted} refused {st.tc_refused}')
    return f'[ground] products {apids or "-"} | bad {s["bad_packets"]} | {relay}'


def ensure_key() -> Path | None:
    """Write a telecommand key if there is none (simulation sessions); return its path if new."""
    path = config.state_path(config.load_params(CONFIG, 'ground')['key_file'])
    relay_path = config.state_path(config.load_params(CONFIG, 'relay')['key_file'])
    if path != relay_path:
        raise config.ConfigError('the relay and the ground name different key files')
    return None if path.is_file() else write_key(path)


def cmd_keygen(args) -> int:
    path = config.state_path(config.load_params(CONFIG, 'ground')['key_file'])
    if path.exists() and not args.force:
        print(f'{path} exists; --force replaces it (the relay must get the new key too)')
        return 1
    print(f'wrote {write_key(path)}')
    return 0


def cmd_run(args) -> int:
    ground = make_ground().start()
    sent = []
    try:
        for text in args.command:
            name, kwargs = parse_command(text)
            sent.append(ground.send(name, **kwargs))
            print(f'[ground] TC {sent[-1]} {text} queued', flush=True)
        end = time.monotonic() + args.seconds if args.seconds else float('inf')
        last, seen = 0.0, 0
        while time.monotonic() < end:
            if sys.stdin.isatty() or not sys.stdin.closed:
                ready, _, _ = select.select([sys.stdin], [], [], 0.2)
                line = sys.stdin.readline() if ready else ''
                if line.strip():
                    try:
                        name, kwargs = parse_command(line)
                        sent.append(ground.send(name, **kwargs))
                        print(f'[ground] TC {sent[-1]} queued', flush=True)
                    except ValueError as exc:
                        print(f'[ground] {exc}', flush=True)
            else:
                time.sleep(0.2)
            for r in ground.reports[seen:]:
                print(f'[ground] TC {r.seq}: {REPORT_NAMES.get(r.kind, r.kind)} {r.reason}',
                      flush=True)
            seen = len(ground.reports)
            if time.monotonic() - last > 5.0:
                print(status_line(ground), flush=True)
                last = time.monotonic()
            if args.until_complete and sent and all(ground.pending[s].finished or any(
                    r.kind == COMPLETED for r in ground.pending[s].reports) for s in sent):
                break
    except KeyboardInterrupt:
        pass
    finally:
        ground.stop()
        print(json.dumps(ground.summary(), indent=1))
        if ground.archive is not None:
            print(f'[ground] archive: {ground.archive.path}')
    return 0


def cmd_link(args) -> int:
    new = ensure_key()      # a simulation tool: the relay and the ground need a shared key
    if new is not None:
        print(f'[link] wrote a new telecommand key: {new}', flush=True)
    link = make_link().start()
    print('[link] running; Ctrl-C stops', flush=True)
    try:
        while True:
            time.sleep(5.0)
            print(f'[link] down {link.down.stats} up {link.up.stats}', flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        link.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format='%(name)s: %(message)s')
    p = argparse.ArgumentParser(prog='chang-e-ground', description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='command', required=True)
    sp = sub.add_parser('keygen', help='write a new telecommand key')
    sp.add_argument('--force', action='store_true')
    sp.set_defaults(func=cmd_keygen)
    sp = sub.add_parser('run', help='receive, archive, send telecommands')
    sp.add_argument('--seconds', type=float, default=0.0, help='stop after this long (0: never)')
    sp.add_argument('--command', action='append', default=[],
                    help='telecommand to send, e.g. "drive_goal x_m=5 y_m=0" (repeatable)')
    sp.add_argument('--until-complete', action='store_true',
                    help='exit when every --command has completed or failed')
    sp.set_defaults(func=cmd_run)
    sp = sub.add_parser('link', help='run the simulated space link')
    sp.set_defaults(func=cmd_link)
    args = p.parse_args(argv)
    try:
        return args.func(args)
    except (config.ConfigError, ValueError) as exc:
        print(f'chang-e-ground: {exc}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
