"""Monte Carlo campaigns of the flown stack (docs/campaign.md): the plan, the Dask
orchestration with its crash rows, bad input refused, and one real run."""
import csv
import json
import math
import os
from pathlib import Path
import signal
import subprocess
import sys
import time

import pytest
import yaml

import isolation

from chang_e_rover import cli, config
from chang_e_rover.campaign import campaign, plan
from chang_e_rover.campaign.plan import CampaignError, Fault, RunSpec


def test_seeds_parse_and_an_empty_list_is_refused():
    assert plan.parse_seeds('1-3,7,2') == [1, 2, 3, 7]
    for bad in ('', ' , ', '5-2', 'a-b', '-3'):
        with pytest.raises(CampaignError):
            plan.parse_seeds(bad)


def test_runs_are_drawn_per_seed_and_k_the_same_everywhere():
    a = plan.make_runs([1, 2, 3], [0, 2, 6])
    b = plan.make_runs([3, 2, 1], [6, 2, 0])
    key = {(r.seed, r.k): r.faults for r in a}
    assert key == {(r.seed, r.k): r.faults for r in b}, 'order of arguments changes nothing'
    assert [r.index for r in a] == list(range(9))
    for r in a:
        assert len(r.faults) == r.k and len({f.wheel for f in r.faults}) == r.k
        assert all(plan.FAULT_WINDOW_S[0] <= f.at_s <= plan.FAULT_WINDOW_S[1] for f in r.faults)
        assert RunSpec.from_dict(json.loads(json.dumps(r.as_dict()))) == r
    assert len({key[(s, 2)] for s in (1, 2, 3)}) == 3, 'seeds draw different faults'


@pytest.mark.parametrize('kwargs, says', [
    ({'ks': [7]}, 'between 0 and 6'), ({'ks': [-1]}, 'between 0 and 6'),
    ({'kinds': ('stall', 'melt')}, "['melt']"), ({'seeds': []}, 'no seeds'),
    ({'goal_m': float('nan')}, 'goal_m'), ({'rock_abundance': 0.5}, 'rock_abundance')])
def test_bad_campaigns_are_refused(kwargs, says):
    args = {'seeds': [1], 'ks': [1], **kwargs}
    with pytest.raises(CampaignError, match=says.replace('[', r'\[').replace(']', r'\]')):
        plan.make_runs(**args)


def test_the_command_refuses_bad_input_at_once_and_runs_nothing(tmp_path, capsys):
    for argv, says in ((['--k', '7'], 'between 0 and 6'), (['--seeds', ''], 'empty'),
                       (['--faults', 'melt'], 'known kinds'),
                       (['--scheduler', 'tcp://127.0.0.1:9'], 'cannot reach it'),
                       (['--domain-base', '200'], 'domain base 200'),
                       (['--domain-base', '-1'], 'domain base -1')):
        with pytest.raises(SystemExit, match=says):
            cli.main(['campaign', '--out', str(tmp_path / 'out'), *argv])
        assert not (tmp_path / 'out').exists(), 'nothing ran'


def test_goals_go_to_open_ground():
    craters = [(20.0, 0.0, 4.0, 0.5)]
    rocks = [(22.0, 3.0, 0.6, 0.0), (18.0, -3.0, 0.1, 0.0)]     # tall; short (ignored)
    tall = config.load_params('rover.yaml', 'hazard_camera')['max_step_m']
    assert 0.1 / 2 < tall < 0.6 / 2
    x, y = plan.open_goal(20.0, rocks, craters, tall)
    assert (x - 20.0) ** 2 + y ** 2 >= (2.0 + 1.6) ** 2 - 1e-9
    assert (x - 22.0) ** 2 + (y - 3.0) ** 2 >= (0.3 + 1.6) ** 2 - 1e-9
    assert plan.open_goal(20.0, [], [], tall) == (20.0, 0.0)
    with pytest.raises(CampaignError):
        plan.open_goal(20.0, [], [(20.0, 0.0, 30.0, 2.0)], tall)
    # A rock under the step limit whose map cost the arc vote still refuses to come near
    # (seed 1's 0.19 m rock 0.9 m from the goal) keeps the goal off as a taller one does.
    p = config.load_params('rover.yaml', 'drive_controller')
    avoided = plan.avoided_height(tall, p['arcs.veto_cost'])
    assert avoided < 0.19 < tall
    assert plan.open_goal(20.0, [(20.9, 0.0, 0.38, 0.0)], [], tall) == (20.0, 0.0)
    x, y = plan.open_goal(20.0, [(20.9, 0.0, 0.38, 0.0)], [], avoided)
    assert math.hypot(x - 20.9, y) >= 0.19 + 1.6 - 1e-9


def test_runs_on_distinct_domains_share_no_port_and_stay_below_dds():
    relay = yaml.safe_load((isolation.STARTED_SHARE / 'config' / 'relay.yaml').read_text())
    ports = [v for node in relay.values() for k, v in node['ros__parameters'].items()
             if k == 'port' or k.endswith('_port')]
    taken: dict[int, int] = {}
    for domain in range(campaign.MAX_DOMAIN + 1):
        for port in (p + campaign.port_shift(domain) for p in ports):
            assert 1024 <= port < config.DDS_FIRST_PORT, (domain, port)
            assert port not in taken, f'domains {taken.get(port)} and {domain} share {port}'
            taken[port] = domain
    # nor with the test suite's workers, which move config's ports up, never down
    assert max(taken) < min(ports)


def _fake(spec: dict) -> dict:
    if spec['seed'] == 2:
        raise RuntimeError('the simulator fell over')
    return {'index': spec['index'], 'seed': spec['seed'], 'k': spec['k'],
            'reached': spec['seed'] != 3, 'cause': '' if spec['seed'] != 3 else 'stuck',
            'log': f'run {spec["index"]} said this'}


def test_a_crashed_run_is_a_row_with_its_traceback_and_the_campaign_goes_on(tmp_path):
    from distributed import Client
    runs = plan.make_runs([1, 2, 3, 4], [0, 1])
    lines = []
    with Client(processes=False, n_workers=1, threads_per_worker=2,
                dashboard_address=None) as client:
        rows = campaign.run_campaign(runs, tmp_path, client, task=_fake, say=lines.append)
    assert len(rows) == 8 and [r['index'] for r in rows] == list(range(8))
    crashed = [r for r in rows if r['cause'] == 'crash']
    assert {r['seed'] for r in crashed} == {2} and len(crashed) == 2
    assert all('the simulator fell over' in r['traceback'] for r in crashed)
    with open(tmp_path / 'runs.csv') as f:
        assert len(list(csv.DictReader(f))) == 8
    logs = sorted(p.name for p in (tmp_path / 'logs').iterdir())
    assert logs == [campaign.log_name(r) for r in rows if r['cause'] != 'crash'], logs
    first = rows[0]
    assert (tmp_path / 'logs' / campaign.log_name(first)).read_text() == \
        f'run {first["index"]} said this'
    with open(tmp_path / 'summary.csv') as f:
        summary = {int(r['k']): r for r in csv.DictReader(f)}
    assert summary[0]['reached'] == '2' and summary[0]['crashed'] == '1'
    assert (tmp_path / 'summary.png').stat().st_size > 1000
    assert any('left' in line for line in lines), 'progress with an estimate of what is left'


@pytest.mark.timeout(600)
def test_one_run_of_the_flown_stack_with_a_wheel_failing(tmp_path):
    """The real stack over DDS in a process of its own: a 2 m goal, lm seizing at 10 s."""
    spec = RunSpec(0, 5, 1, (Fault('lm', 'stall', 10.0),), goal_m=2.0, cap_s=150.0)
    # On a domain of this worker's block: the default base may be another worker's.
    row = campaign.run_isolated(spec.as_dict(), domain_base=isolation.domain(20))
    assert row.get('cause') != 'crash', row.get('traceback')
    said = {k: row.get(k) for k in ('state', 'cause', 'sim_s', 'wall_s', 'arrival_error_m',
                                    'detection_s', 'spurious')}
    assert row['reached'] and row['state'] == 'REACHED', said
    assert row['arrival_error_m'] < 0.5 and row['sim_s'] < spec.cap_s
    detection = json.loads(row['detection_s'])
    assert detection['lm'] is not None and 0 <= detection['lm'] < 2.0, detection
    assert row['spurious'] == '', 'no fault latched on a healthy wheel'
    assert 'wheel lm' in row['log'] and 'goal reached' in row['log'], row['log'][-2000:]


@pytest.mark.timeout(300)
def test_a_run_whose_campaign_is_gone_stops_instead_of_running_to_its_cap(tmp_path):
    """A worker killed mid-run (the campaign stopped) leaves its run orphaned: the run
    sees its parent gone, ends, rather than driving on unheard for 1200 s, and removes
    its temporary folder."""
    spec = RunSpec(0, 5, 0, (), goal_m=20.0, cap_s=1200.0)
    domain = isolation.domain(20)       # and that domain's relay ports, as a campaign's run
    folder = tmp_path / f'{plan.RUN_DIR_PREFIX}orphan'     # as campaign.run_isolated makes it
    env = {**os.environ, 'ROS_DOMAIN_ID': str(domain),
           'CHANG_E_ROVER_STATE': str(folder / 'state'),
           'CHANG_E_ROVER_SHARE': str(config.copy_share(folder / 'share',
                                                        campaign.port_shift(domain)))}
    # The parent starts the run, says its pid, and exits at once.
    parent = subprocess.run(
        [sys.executable, '-c',
         'import os, subprocess, sys; p = subprocess.Popen([sys.executable, "-m", '
         '"chang_e_rover.campaign.probe_node", sys.argv[1]], stdout=subprocess.DEVNULL, '
         'stderr=open(sys.argv[2], "w"), env={**os.environ, sys.argv[3]: '
         'str(os.getpid())}); print(p.pid)', json.dumps(spec.as_dict()), str(tmp_path / 'err'),
         plan.PARENT_ENV],
        capture_output=True, text=True, env=env, check=True, timeout=30)
    pid = int(parent.stdout.strip())
    deadline = time.monotonic() + 240
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    still = _running(pid)
    if still:
        os.kill(pid, signal.SIGKILL)
    assert not still, 'the orphaned run was still going after 240 s'
    err = (tmp_path / 'err').read_text()
    assert 'is gone; stopped at t=' in err, err[-2000:]
    assert not folder.exists(), 'the orphan left its temporary folder behind'


def _running(pid: int) -> bool:
    """The process exists and is not a zombie waiting to be reaped."""
    try:
        return Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[0] != 'Z'
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
