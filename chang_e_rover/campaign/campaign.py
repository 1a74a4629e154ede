"""Monte Carlo campaigns of the flown stack on Dask: `chang-e-rover campaign`.

Each run (campaign/plan.py RunSpec) is one Dask task that starts the whole stack,
simulator and flight nodes over DDS, in a process of its own
(campaign/probe_node.py), isolated as a second simulation session on the same
machine would be: its own DDS domain, run-time state folder and relay ports, all
derived from the run's index. By default a local cluster of one worker process
per core runs them; `--scheduler tcp://host:8786` sends them to a cluster a team
runs on many machines (each worker needs this package and a `.venv` like ours).

Per run, a row in `runs.csv` as it ends (seed, k, faults, detection times, arrival
error, drift, sim and wall time, the cause of any miss; a run that crashed is a
row with its traceback, and the campaign goes on) and its log in `logs/` (what its
nodes said: every fault, isolation, recovery and goal event, in sim time); at the end
`summary.csv` (per k: runs, reached, share) and `summary.png`. Progress with an
estimate of the time left.
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path
import socket
import subprocess
import sys
import tempfile
import time

from chang_e_rover import config
from chang_e_rover.campaign.plan import CampaignError, PARENT_ENV, RUN_DIR_PREFIX, RunSpec

DOMAIN_BASE, DOMAINS = 150, 80         # run i: domain --domain-base (150) + i mod 80
MAX_DOMAIN = 232                       # the highest id whose DDS ports fit below 65536
# A run's relay ports follow its DDS domain d: config's (5010-5013) moved by PORT_BASE +
# PORT_STEP d, to 1110-3443 for d 0..232. Sessions on distinct domains then never share a
# port: two campaigns, or a campaign beside the test suite (whose workers keep 5010 up).
PORT_BASE, PORT_STEP = -3900, 10
COLUMNS = ('index', 'seed', 'k', 'faults', 'reached', 'state', 'cause', 'goal_x_m', 'goal_y_m',
           'arrival_error_m', 'drift_m', 'drift_percent', 'travelled_m', 'detection_s',
           'spurious', 'sim_s', 'wall_s', 'traceback')
LOG_CHARS = 2_000_000                  # a run's log kept (its end), carried in its row's 'log'


def check_domain_base(base: int) -> int:
    """base, if domains base .. base + DOMAINS - 1 are all valid DDS domain ids."""
    if not 0 <= base <= MAX_DOMAIN - DOMAINS + 1:
        raise CampaignError(f'domain base {base}: runs take domains base .. base + '
                            f'{DOMAINS - 1}, so the base must lie in 0 .. '
                            f'{MAX_DOMAIN - DOMAINS + 1}')
    return base


def port_shift(domain: int) -> int:
    """How far a run on DDS domain `domain` moves config's relay ports."""
    return PORT_BASE + PORT_STEP * domain


def run_isolated(spec_dict: dict, domain_base: int = DOMAIN_BASE) -> dict:
    """One run in a process of its own, on DDS domain domain_base + index mod DOMAINS and
    the relay ports of that domain; its row. Never raises: a crash is a row."""
    spec = RunSpec.from_dict(spec_dict)
    row = {'index': spec.index, 'seed': spec.seed, 'k': spec.k,
           'faults': ' '.join(f'{f.wheel}:{f.kind}@{f.at_s:g}' for f in spec.faults)}
    with tempfile.TemporaryDirectory(prefix=RUN_DIR_PREFIX) as tmp:
        domain = domain_base + spec.index % DOMAINS
        env = {**os.environ, 'ROS_DOMAIN_ID': str(domain),
               'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST',
               'CHANG_E_ROVER_STATE': str(Path(tmp) / 'state'),
               'CHANG_E_ROVER_SHARE': str(config.copy_share(Path(tmp) / 'share',
                                                            port_shift(domain)))}
        env[PARENT_ENV] = str(os.getpid())    # the run ends if this ends
        env.setdefault('MUJOCO_GL', 'egl')
        env.setdefault('FASTDDS_BUILTIN_TRANSPORTS', 'LARGE_DATA')
        env.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
        start = time.monotonic()
        try:
            out = subprocess.run([sys.executable, '-m', 'chang_e_rover.campaign.probe_node',
                                  json.dumps(spec.as_dict())], capture_output=True, text=True,
                                 env=env, timeout=spec.cap_s * 10 + 300)
        except subprocess.TimeoutExpired as exc:
            return {**row, 'cause': 'crash', 'wall_s': time.monotonic() - start,
                    'traceback': f'no result within {exc.timeout:.0f} s of wall time'}
    # The log travels in the row: a worker on another machine shares no folder with us.
    row['log'] = out.stderr[-LOG_CHARS:]
    lines = [x for x in out.stdout.splitlines() if x.startswith('RESULT ')]
    if out.returncode != 0 or not lines:
        return {**row, 'cause': 'crash', 'wall_s': time.monotonic() - start,
                'traceback': (out.stderr or out.stdout)[-4000:]}
    result = json.loads(lines[-1][len('RESULT '):])
    result.pop('faults', None)
    return {**row, **result, 'detection_s': json.dumps(result['detection_s']),
            'spurious': ' '.join(result['spurious'])}


def connect(scheduler: str | None, workers: int):
    """A Dask client: a local cluster of `workers` single-threaded processes, or the
    scheduler at its address. An address that does not answer raises CampaignError."""
    from distributed import Client, LocalCluster
    from distributed.comm import parse_address, parse_host_port
    if scheduler:
        try:
            protocol, location = parse_address(scheduler)
            if protocol in ('tcp', 'tls'):
                # a port that refuses says so at once; dask would retry until its timeout
                socket.create_connection(parse_host_port(location), timeout=2.0).close()
            return Client(scheduler, timeout='10s')
        except (OSError, TimeoutError, ValueError) as exc:
            raise CampaignError(f'scheduler {scheduler}: cannot reach it ({exc}); start one '
                                '(dask scheduler) or leave --scheduler out for a local '
                                'cluster') from None
    if workers < 1:
        raise CampaignError(f'workers = {workers}: at least 1')
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    return Client(cluster)


def run_campaign(runs: list[RunSpec], out: Path, client, task=run_isolated,
                 say=print) -> list[dict]:
    """Every run as a task; rows written to out/runs.csv and their logs to out/logs/ as
    they end; the summary at the end. task(spec_dict) -> row is the unit of work
    (run_isolated for the real stack)."""
    from distributed import as_completed
    (out / 'logs').mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    start = time.monotonic()
    futures = [client.submit(task, r.as_dict(), key=f'run-{r.index}-{r.seed}-{r.k}', pure=False)
               for r in runs]
    with open(out / 'runs.csv', 'w', newline='') as f:
        writer = csv.DictWriter(f, COLUMNS, extrasaction='ignore')
        writer.writeheader()
        for future in as_completed(futures):
            try:
                row = future.result()
            except Exception as exc:     # noqa: BLE001 - the task itself failed: record it
                import traceback
                spec = runs[futures.index(future)]
                row = {'index': spec.index, 'seed': spec.seed, 'k': spec.k, 'cause': 'crash',
                       'traceback': ''.join(traceback.format_exception(exc))[-4000:]}
            log = row.pop('log', None)
            if log is not None:
                (out / 'logs' / log_name(row)).write_text(log)
            rows.append(row)
            writer.writerow(row)
            f.flush()
            elapsed = time.monotonic() - start
            left = elapsed / len(rows) * (len(runs) - len(rows))
            say(f'[campaign] {len(rows)}/{len(runs)} seed {row["seed"]} k={row["k"]}: '
                f'{"reached" if row.get("reached") else row.get("cause", "?")}'
                f'  ({elapsed:.0f} s so far, about {left:.0f} s left)')
    rows.sort(key=lambda r: r['index'])
    summarise(rows, out, say)
    return rows


def log_name(row: dict) -> str:
    """The file in logs/ of a run's log: its index, seed and k."""
    return f'{row["index"]:03d}-seed{row["seed"]}-k{row["k"]}.log'


def summarise(rows: list[dict], out: Path, say=print) -> list[dict]:
    """Per k: runs, reached, share, crashes; summary.csv and summary.png in out."""
    table = []
    for k in sorted({r['k'] for r in rows}):
        of_k = [r for r in rows if r['k'] == k]
        reached = sum(bool(r.get('reached')) for r in of_k)
        table.append({'k': k, 'runs': len(of_k), 'reached': reached,
                      'share_percent': round(100 * reached / len(of_k), 1),
                      'crashed': sum(r.get('cause') == 'crash' for r in of_k)})
    with open(out / 'summary.csv', 'w', newline='') as f:
        writer = csv.DictWriter(f, ('k', 'runs', 'reached', 'share_percent', 'crashed'))
        writer.writeheader()
        writer.writerows(table)
    say(f'{"k":>3}{"runs":>6}{"reached":>9}{"share":>8}{"crashed":>9}')
    for t in table:
        say(f'{t["k"]:>3}{t["runs"]:>6}{t["reached"]:>9}{t["share_percent"]:>7.1f}%'
            f'{t["crashed"]:>9}')
    _plot(table, out / 'summary.png')
    return table


def _plot(table: list[dict], path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(5, 3.2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.bar([str(t['k']) for t in table], [t['share_percent'] for t in table], color='#4a7')
    for i, t in enumerate(table):
        ax.annotate(f'{t["reached"]}/{t["runs"]}', (i, t['share_percent']), ha='center',
                    va='bottom')
    ax.set_xlabel('wheels failed (k)')
    ax.set_ylabel('goals reached, %')
    ax.set_ylim(0, 110)
    fig.tight_layout()
    fig.savefig(path)
