"""Start nodes from the graph: all in one process, or one process per node under supervision."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any, Callable

from chang_e_rover.graph import lockstep_nodes, NodeSpec
from chang_e_rover.supervisor import RestartPolicy, RestartTracker


def ros_environment() -> dict[str, str]:
    """Return the environment nodes need: large-data transport so 1 MP images arrive."""
    env = dict(os.environ)
    env.setdefault('FASTDDS_BUILTIN_TRANSPORTS', 'LARGE_DATA')
    env.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
    return env


EXECUTORS = ('events', 'single')


def make_executor(context=None):
    """The executor nodes spin on: rclpy's EventsExecutor (callbacks dispatched from
    middleware events, no wait set rebuilt per round), or with CHANG_E_ROVER_EXECUTOR=single
    the classic SingleThreadedExecutor."""
    kind = os.environ.get('CHANG_E_ROVER_EXECUTOR', 'events')
    if kind not in EXECUTORS:
        raise SystemExit(f'CHANG_E_ROVER_EXECUTOR={kind!r}: expected one of {EXECUTORS}')
    if kind == 'events':
        from rclpy.experimental import EventsExecutor
        return EventsExecutor(context=context)
    from rclpy.executors import SingleThreadedExecutor
    return SingleThreadedExecutor(context=context)


def with_lockstep(specs: list[NodeSpec], overrides: dict[str, dict[str, Any]] | None):
    """The overrides, with the simulator (if it is among specs) told to wait for the flight
    nodes of its loop that are started with it before its first step (lockstep.expect),
    unless the caller said otherwise."""
    overrides = {k: dict(v) for k, v in (overrides or {}).items()}
    if any(s.name == 'sim' for s in specs):
        loop = set(lockstep_nodes())
        overrides.setdefault('sim', {}).setdefault(
            'lockstep.expect', ','.join(s.name for s in specs if s.name in loop))
    return overrides


def build_nodes(specs: list[NodeSpec], overrides: dict[str, dict[str, Any]] | None = None,
                sim_time: bool = True, context=None):
    """Instantiate the specs' nodes in this process (rclpy must be initialised)."""
    from rclpy.parameter import Parameter
    overrides = with_lockstep(specs, overrides)
    nodes = []
    for spec in specs:
        params = {'use_sim_time': sim_time and spec.sim_clock, **overrides.get(spec.name, {})}
        nodes.append(spec.load_factory()(
            **spec.kwargs, namespace=spec.namespace, context=context,
            parameter_overrides=[Parameter(k, value=v) for k, v in params.items()]))
    return nodes


def spin_in_process(specs: list[NodeSpec], overrides=None,
                    keep_going: Callable[[], bool] = lambda: True, extra_nodes=(),
                    sim_time: bool = True):
    """Run the nodes in this process until keep_going() is false or Ctrl-C.

    Single-threaded executors only (make_executor; a multi-threaded one starves
    image transport here): one for most nodes on this thread, and one each, on a
    thread of its own, for the nodes whose spec asks for it (long callbacks: the
    stereo pipeline, the relay's writes to disk).
    """
    import threading

    import rclpy
    for key, value in ros_environment().items():
        os.environ.setdefault(key, value)
    rclpy.init()
    nodes, threads, stop = [], [], threading.Event()

    def spin_alone(executor):
        while not stop.is_set() and rclpy.ok():
            executor.spin_once(timeout_sec=0.1)

    try:
        nodes = build_nodes(specs, overrides, sim_time)
        executor = make_executor()
        for spec, node in zip(specs, nodes):
            if spec.own_executor:
                own = make_executor()
                own.add_node(node)
                threads.append(threading.Thread(target=spin_alone, args=(own,),
                                                name=spec.full_name, daemon=True))
            else:
                executor.add_node(node)
        for make in extra_nodes:
            node = make(nodes)
            executor.add_node(node)
            nodes.append(node)
        for thread in threads:
            thread.start()
        while rclpy.ok() and keep_going():
            executor.spin_once(timeout_sec=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        for thread in threads:
            if thread.ident is not None:      # started (building a node can fail first)
                thread.join(timeout=5.0)
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()
    return nodes


def node_command(spec: NodeSpec, overrides: dict[str, Any] | None = None,
                 sim_time: bool = True) -> list[str]:
    """Return the command line that runs one node in its own process."""
    cmd = [sys.executable, '-m', 'chang_e_rover.cli', 'node', spec.full_name, '--ros-args']
    for key, value in {'use_sim_time': sim_time and spec.sim_clock, **(overrides or {})}.items():
        cmd += ['-p', f'{key}:={_ros_arg(value)}']
    return cmd


def _ros_arg(value: Any) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


class ProcessSupervisor:
    """One process per node; a node process that dies is reported and restarted by policy."""

    def __init__(self, specs: list[NodeSpec], overrides=None, policy: RestartPolicy | None = None,
                 log: Callable[[str], None] = print, sim_time: bool = True):
        self.sim_time = sim_time
        self.specs = {s.full_name: s for s in specs}
        self.overrides = with_lockstep(specs, overrides)
        self.policy = policy or RestartPolicy()
        self.log = log
        self.procs: dict[str, subprocess.Popen] = {}
        self.trackers = {name: RestartTracker(self.policy) for name in self.specs}
        self.restart_at: dict[str, float] = {}
        self.given_up: set[str] = set()
        self.ended: str | None = None     # why the session ended (a node that is not restarted)
        self.restarts = 0

    def start(self, name: str) -> None:
        spec = self.specs[name]
        self.procs[name] = subprocess.Popen(
            node_command(spec, self.overrides.get(spec.name), self.sim_time), env=ros_environment())

    def start_all(self) -> None:
        for name in self.specs:
            self.start(name)

    def poll(self) -> None:
        """Reap dead node processes and restart the ones whose back-off has passed."""
        now = time.monotonic()
        for name, proc in list(self.procs.items()):
            code = proc.poll()
            if code is None:
                continue
            del self.procs[name]
            if not self.specs[name].restart:
                self.ended = f'{name} exited with code {code}'
                self.log(f'[bringup] {self.ended}; it is not restarted: the session ends')
                continue
            delay = self.trackers[name].on_death(now)
            if delay is None:
                self.given_up.add(name)
                self.log(f'[bringup] {name} exited with code {code}; it died more than '
                         f'{self.policy.max_restarts} times in {self.policy.window_s:.0f} s: '
                         'not restarted')
            else:
                self.restart_at[name] = now + delay
                self.log(f'[bringup] {name} exited with code {code}; restarting in {delay:.1f} s')
        for name, when in list(self.restart_at.items()):
            if now >= when:
                del self.restart_at[name]
                self.restarts += 1
                self.start(name)

    def stop(self, timeout: float = 5.0) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()

    def run(self, keep_going: Callable[[], bool] = lambda: True) -> None:
        self.start_all()
        try:
            while keep_going() and self.ended is None:
                self.poll()
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
