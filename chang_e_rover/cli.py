"""The `chang-e-rover` command: sim, bringup, mission, and node (one node of the graph)."""
from __future__ import annotations

import argparse
import sys
import time

from chang_e_rover import config, graph
from chang_e_rover.campaign.campaign import DOMAIN_BASE, DOMAINS
from chang_e_rover.campaign.plan import FAULT_KINDS as INJECTABLE
from chang_e_rover.robot_description import WHEEL_IDS
from chang_e_rover.sim.terrain import NAMED_TERRAINS


def _sim_overrides(args) -> dict[str, dict]:
    sim = {}
    if args.terrain is not None:
        sim['terrain.name'] = args.terrain
    if args.seed is not None:
        sim['terrain.seed'] = args.seed
    if args.rock_abundance is not None:
        if not 0.0 <= args.rock_abundance <= 0.4:
            raise SystemExit('--rock-abundance must be between 0 and 0.4')
        sim['terrain.rock_abundance'] = float(args.rock_abundance)
    if args.real_time_factor is not None:
        if not args.real_time_factor >= 0:
            raise SystemExit('--real-time-factor must be a number >= 0')
        sim['real_time_factor'] = float(args.real_time_factor)
    return {'sim': sim}


def _run(specs, overrides, processes: bool, sim_time: bool) -> int:
    from chang_e_rover import runner
    if processes:
        supervisor = runner.ProcessSupervisor(specs, overrides, sim_time=sim_time)
        supervisor.run()
        return 1 if supervisor.ended else 0
    else:
        runner.spin_in_process(specs, overrides, sim_time=sim_time)
    return 0


def _ensure_key() -> None:
    """Provision the telecommand key the relay and the ground share, on first use (the
    simulated space link itself is a node of the simulation: graph.sim_nodes)."""
    from chang_e_rover.relay.ground_cli import ensure_key
    key = ensure_key()
    if key is not None:
        print(f'[sim] wrote a new telecommand key: {key}', flush=True)


FOXGLOVE_CONFIG_PORT = -1     # --foxglove without PORT: config/live.yaml's port


def _session(specs, overrides, args):
    """Add what the session asks for: the recorder (`--record PATH`), the live view
    (`--foxglove [PORT]`)."""
    extra = []
    if args.record is not None:
        extra.append(graph.recorder(args.record))
    if args.foxglove is not None:
        extra.append(graph.live(None if args.foxglove == FOXGLOVE_CONFIG_PORT else args.foxglove))
    for spec, params in extra:
        specs, overrides = specs + [spec], {**overrides, **params}
    return specs, overrides


def cmd_sim(args) -> int:
    _ensure_key()
    overrides = _sim_overrides(args)
    if args.viewer:
        overrides['sim']['viewer'] = True
    return _run(*_session(graph.all_nodes(), overrides, args), args.processes, sim_time=True)


def cmd_bringup(args) -> int:
    return _run(*_session(graph.flight_nodes(args.vehicle), {}, args), args.processes,
                sim_time=args.use_sim_time)


MISSION_RELEASE_AFTER_S = 30.0


def cmd_mission(args) -> int:
    from chang_e_rover import runner
    from chang_e_rover.mission.mission_node import MissionNode
    from chang_e_rover.mission.plan import Crossing, FaultDrive
    crossing = Crossing() if args.rock_field else None
    overrides = _sim_overrides(args)
    if crossing is not None:
        # The mission's Moon: open ground around the lander, a rock field beyond it.
        for key, value in (('terrain.name', crossing.terrain), ('terrain.seed', crossing.seed),
                           ('terrain.rock_abundance', crossing.rock_abundance),
                           ('terrain.keep_clear_m', crossing.keep_clear_m),
                           ('terrain.size_m', crossing.size_m)):
            overrides['sim'].setdefault(key, value)
    overrides['sim'].setdefault('real_time_factor', 0.0)   # as fast as lock-step allows
    # The mission begins on the lander's deck, and drives off after a shortened wait
    # (the flight's 12 hours would be 12 hours of simulated time).
    overrides['sim'].setdefault('rover_start', 'deck')
    overrides['sequencer'] = {'timeline.release_after_landing_s': MISSION_RELEASE_AFTER_S}
    from chang_e_rover.relay.clock import LinkClock
    from chang_e_rover.relay.ground_cli import make_ground
    mission = []
    _ensure_key()
    folder = config.state_path(time.strftime('mission/%Y%m%d-%H%M%S'))
    # The ground station on the simulator's clock (the mission node's, once it exists), as
    # the link node is: its acknowledgements and repeats keep their pace in sim seconds.
    ground_clock = LinkClock()
    ground = make_ground(archive_dir=str(folder / 'ground'), clock=ground_clock).start()

    def make_mission(nodes):
        # The operator's ground-truth instrument: which rocks the rover touches.
        sim = next(n for n in nodes if n.get_name() == 'sim')
        rocks = sim.world.terrain.rocks
        tall = [(f'rock_{i}', (float(r[0]), float(r[1]))) for i, r in enumerate(rocks)
                if crossing is not None and 0.5 * r[2] > crossing.tall_m]
        mission.append(MissionNode(report=lambda line: print(line, flush=True),
                                   fault_drive=FaultDrive(wheel=args.fault_wheel,
                                                          fault=args.fault), ground=ground,
                                   folder=folder, deploy=True, crossing=crossing,
                                   contacts=lambda: sim.world.rover_contacts(), tall_rocks=tall))
        ground_clock.follow(mission[0].get_clock())
        return mission[0]

    print('[mission] starting the simulator and the flight stack in one process, the space '
          'link and the ground station', flush=True)
    try:
        specs, overrides = _session(graph.all_nodes(), overrides, args)
        runner.spin_in_process(specs, overrides,
                               keep_going=lambda: not (mission and mission[0].finished),
                               extra_nodes=(make_mission,))
    finally:
        ground.stop()
    report = mission[0].report if mission else None     # docs/mission.md
    arrived = report is not None and report['goal_drive']['arrived'] and (
        report['crossing'] is None or report['crossing']['arrived'])
    return 0 if arrived else 1


def cmd_campaign(args) -> int:
    import functools
    from pathlib import Path

    from chang_e_rover.campaign import campaign, plan
    try:
        task = functools.partial(campaign.run_isolated,
                                 domain_base=campaign.check_domain_base(args.domain_base))
        runs = plan.make_runs(plan.parse_seeds(args.seeds), args.k, tuple(args.faults),
                              args.goal_m, args.cap_s, args.rock_abundance)
        out = Path(args.out or config.state_path(time.strftime('campaign/%Y%m%d-%H%M%S')))
        client = campaign.connect(args.scheduler, args.workers)
    except (plan.CampaignError, config.ConfigError) as exc:
        raise SystemExit(f'campaign: {exc}') from None
    print(f'[campaign] {len(runs)} runs of the flown stack (k {args.k}, seeds {args.seeds}) on '
          f'{client.dashboard_link if args.scheduler else f"{args.workers} local workers"}; '
          f'rows to {out}/runs.csv', flush=True)
    try:
        campaign.run_campaign(runs, out, client, task=task,
                              say=lambda line: print(line, flush=True))
    finally:
        client.close()
    return 0


def cmd_node(args) -> int:
    """Run one node of the graph in this process (what --processes starts per node)."""
    import rclpy
    try:
        spec = graph.find(args.name)
    except KeyError as exc:
        raise SystemExit(str(exc)) from exc
    from chang_e_rover.ros_common import spin_node
    rclpy.init(args=[sys.argv[0], *args.ros_args])
    spin_node(spec.load_factory()(**spec.kwargs, namespace=spec.namespace))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog='chang-e-rover', description=__doc__)
    sub = p.add_subparsers(dest='command', required=True)

    def sim_options(sp):
        sp.add_argument('--terrain', choices=NAMED_TERRAINS)
        sp.add_argument('--seed', type=int)
        sp.add_argument('--rock-abundance', type=float,
                        help='Golombek-Rapp k of the rocks terrain, 0 to 0.4')
        sp.add_argument('--real-time-factor', type=float)

    def session_options(sp):
        sp.add_argument('--record', metavar='PATH', help='record the graph\'s topics into '
                        'PATH (.mcap), as ros2 bag record does')
        sp.add_argument('--foxglove', metavar='PORT', nargs='?', type=int,
                        const=FOXGLOVE_CONFIG_PORT, help='serve a live view to Foxglove on '
                        'ws://127.0.0.1:8765 (or PORT), docs/live.md')

    sp = sub.add_parser('sim', help='simulator and the whole flight stack; runs until Ctrl-C')
    sim_options(sp)
    sp.add_argument('--processes', action='store_true', help='one process per node')
    session_options(sp)
    sp.add_argument('--viewer', action='store_true',
                    help='open MuJoCo\'s viewer on the simulated world (needs a display)')
    sp.set_defaults(func=cmd_sim)
    sp = sub.add_parser('bringup', help='the flight stack alone, against hardware or a sim')
    sp.add_argument('--processes', action='store_true', help='one process per node')
    session_options(sp)
    sp.add_argument('--use-sim-time', action='store_true',
                    help='follow /clock of a simulator started apart')
    sp.add_argument('--vehicle', choices=graph.VEHICLES,
                    help="only this vehicle's nodes, as its own computer runs them "
                         '(default: both)')
    sp.set_defaults(func=cmd_bringup)
    sp = sub.add_parser('mission', help='the scripted mission in simulation, with a summary')
    sim_options(sp)
    sp.add_argument('--fault-wheel', choices=WHEEL_IDS, default='lm',
                    help='the wheel that fails during the goal drive')
    sp.add_argument('--fault', choices=INJECTABLE, default='stall')
    sp.add_argument('--rock-field', action=argparse.BooleanOptionalAction, default=True,
                    help='rocks beyond the open ground around the lander, and a last leg '
                         'through them after the ground resets the failed wheel (default; '
                         '--no-rock-field: flat ground and no last leg)')
    session_options(sp)
    sp.set_defaults(func=cmd_mission)
    sp = sub.add_parser('campaign', help='Monte Carlo runs of the flown stack on Dask '
                        '(docs/campaign.md)')
    sp.add_argument('--seeds', default='1-30', help='seeds and ranges, e.g. 1-30 or 3,7,40-45')
    sp.add_argument('--k', type=int, nargs='+', default=[0, 1, 2, 3],
                    help='numbers of failed wheels (0 to 6)')
    sp.add_argument('--faults', nargs='+', default=list(INJECTABLE),
                    help='the fault kinds drawn from')
    sp.add_argument('--goal-m', type=float, default=20.0, help='goal distance ahead, m')
    sp.add_argument('--cap-s', type=float, default=1200.0, help='sim seconds per run')
    sp.add_argument('--rock-abundance', type=float, default=0.03)
    sp.add_argument('--workers', type=int, default=2, help='local worker processes')
    sp.add_argument('--scheduler', help='a Dask scheduler address (tcp://host:8786)')
    sp.add_argument('--out', help='output folder (default: the state folder\'s campaign/)')
    sp.add_argument('--domain-base', type=int, default=DOMAIN_BASE,
                    help=f'run i takes DDS domain BASE + i mod {DOMAINS} (default '
                         f'{DOMAIN_BASE}); move it off the domains other sessions on these '
                         'machines use')
    sp.set_defaults(func=cmd_campaign)
    sp = sub.add_parser('node', help='run one node of the graph, e.g. /rover/wheel_lf')
    sp.add_argument('name')
    sp.set_defaults(func=cmd_node)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ros_args = []
    if '--ros-args' in argv:
        i = argv.index('--ros-args')
        argv, ros_args = argv[:i], argv[i:]
    args = parser().parse_args(argv)
    args.ros_args = ros_args
    return args.func(args)


if __name__ == '__main__':
    sys.exit(main())
