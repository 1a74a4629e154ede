"""`bringup --processes`: one process per node; a node process that dies is reported and restarted."""
import os
from pathlib import Path
import signal
import subprocess
import sys
import time

from chang_e_rover import graph
from chang_e_rover.runner import ProcessSupervisor
from chang_e_rover.supervisor import RestartPolicy

ROOT = Path(__file__).resolve().parent.parent


def graph_names(ros, probe):
    return {f'{ns.rstrip("/")}/{n}' for n, ns in probe.get_node_names_and_namespaces()}


def test_a_killed_node_process_is_reported_and_restarted(ros, monkeypatch):
    monkeypatch.setenv('PYTHONPATH', str(ROOT))
    logs = []
    sup = ProcessSupervisor(graph.flight_nodes(), policy=RestartPolicy(backoff_s=0.2),
                            log=logs.append, sim_time=False)
    probe = ros.node('watcher')
    expected = {s.full_name for s in graph.flight_nodes()}
    try:
        sup.start_all()
        ros.spin_until(lambda: expected <= graph_names(ros, probe), 60, 'all flight nodes up')
        victim = sup.procs['/rover/wheel_lf']
        old_pid = victim.pid
        victim.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 30
        while sup.restarts == 0 and time.monotonic() < deadline:
            sup.poll()
            time.sleep(0.05)
        assert sup.restarts == 1
        assert any('/rover/wheel_lf exited with code -9' in line for line in logs)
        assert sup.procs['/rover/wheel_lf'].pid != old_pid
        assert all(p.poll() is None for p in sup.procs.values())
        ros.spin_for(1.0)
        assert '/rover/wheel_lf' in graph_names(ros, probe)
    finally:
        procs = list(sup.procs.values())
        sup.stop()
    assert all(p.returncode is not None for p in procs), 'no node process may outlive the test'


def test_cli_node_refuses_an_unknown_name():
    result = subprocess.run([sys.executable, '-m', 'chang_e_rover.cli', 'node', '/rover/wheel_xx'],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, 'PYTHONPATH': str(ROOT)})
    assert result.returncode != 0 and 'no node' in result.stderr
