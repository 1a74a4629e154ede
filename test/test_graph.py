"""The one node list: launch files, setup.py, config/ and the ICD names agree with it."""
import ast
from pathlib import Path
import re

import pytest

from chang_e_rover import config, graph
from chang_e_rover.supervisor import RestartPolicy, RestartTracker

ROOT = Path(__file__).resolve().parent.parent
ICD_NODES = {'/rover/drive_controller', '/sim'} | {f'/rover/wheel_{w}' for w in
                                                   ('lf', 'lm', 'lr', 'rf', 'rm', 'rr')}


def console_scripts() -> dict[str, str]:
    text = (ROOT / 'setup.py').read_text()
    return dict(re.findall(r"'([\w-]+) = ([\w.]+:\w+)'", text))


def test_graph_holds_the_icd_nodes():
    assert ICD_NODES <= {s.full_name for s in graph.all_nodes()}
    names = [s.full_name for s in graph.all_nodes()]
    assert len(names) == len(set(names))


@pytest.mark.parametrize('spec', graph.all_nodes(), ids=lambda s: s.full_name)
def test_every_node_has_an_executable_a_param_section_and_a_factory(spec):
    scripts = console_scripts()
    assert spec.executable in scripts, f'{spec.executable} is not a console script in setup.py'
    module, func = scripts[spec.executable].split(':')
    assert func == 'main' and hasattr(__import__(module, fromlist=['main']), 'main')
    assert (ROOT / 'config' / spec.params_file).is_file()
    params = spec.parameters(sim_time=True)
    assert params == {**config.load_params(spec.params_file, spec.params_section),
                      'use_sim_time': spec.sim_clock}
    factory = spec.load_factory()
    assert factory.__module__ == module, 'in-process and launched node must be the same code'


def test_each_vehicle_runs_its_own_nodes_and_together_they_are_the_flight_stack():
    rover, lander = graph.flight_nodes('rover'), graph.flight_nodes('lander')
    assert {s.namespace for s in rover} == {'rover'} and {s.namespace for s in lander} == {
        'lander'}
    assert {'/rover/drive_controller', '/rover/hazard_camera'} <= {s.full_name for s in rover}
    assert '/lander/relay' in {s.full_name for s in lander}
    assert sorted(rover + lander, key=lambda s: s.full_name) == sorted(
        graph.flight_nodes(), key=lambda s: s.full_name)
    with pytest.raises(ValueError, match='unknown vehicle'):
        graph.flight_nodes('orbiter')


def _launch_calls(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {f'{n.func.value.id}.{n.func.attr}' for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
            and isinstance(n.func.value, ast.Name)}


def test_launch_files_are_built_from_the_graph():
    assert 'graph.all_nodes' in _launch_calls(ROOT / 'launch' / 'sim_launch.py')
    assert 'graph.flight_nodes' in _launch_calls(ROOT / 'launch' / 'bringup_launch.py')
    for path in (ROOT / 'launch').glob('*.py'):
        text = path.read_text()
        assert 'generate_launch_description' in text
        # executables and parameter files come from the graph, never typed again here
        assert 'executable=spec.executable' in text and "executable='" not in text


def test_setup_installs_launch_config_and_urdf():
    text = (ROOT / 'setup.py').read_text()
    for folder in ('launch', 'config', 'urdf'):
        assert f"(f'share/{{PACKAGE}}/{folder}'" in text
    assert (ROOT / 'resource' / 'chang_e_rover').is_file()
    cfg = (ROOT / 'setup.cfg').read_text()
    assert 'script_dir=$base/lib/chang_e_rover' in cfg


def test_package_xml_declares_every_ros_import():
    xml = (ROOT / 'package.xml').read_text()
    deps = set(re.findall(r'<exec_depend>([\w-]+)</exec_depend>', xml))
    imported = set()
    for path in (ROOT / 'chang_e_rover').rglob('*.py'):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split('.')[0])
            elif isinstance(node, ast.Import):
                imported.update(a.name.split('.')[0] for a in node.names)
    ros = {m for m in imported if m.endswith('_msgs') or m.endswith('_srvs') or m in (
        'rclpy', 'builtin_interfaces', 'rosgraph_msgs', 'rcl_interfaces', 'ament_index_python')}
    assert ros <= deps, f'missing exec_depend: {ros - deps}'


ROS_FACING = ('ros_common.py', 'runner.py', 'cli.py')     # besides every *_node.py
ROS_IMPORT = re.compile(r'^\s*(import rclpy|from rclpy|from \w+_msgs|import \w+_msgs)', re.M)


def _ros_facing(path: Path) -> bool:
    return path.name.endswith('_node.py') or path.name in ROS_FACING


def _project_imports(path: Path) -> set[Path]:
    """The project's modules path imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                 [node.module] + [f'{node.module}.{a.name}' for a in node.names]
                 if isinstance(node, ast.ImportFrom) and node.module else [])
        for name in names:
            if name.split('.')[0] != 'chang_e_rover':
                continue
            base = ROOT.joinpath(*name.split('.'))
            for candidate in (base.with_suffix('.py'), base / '__init__.py'):
                if candidate.is_file():
                    found.add(candidate)
    return found


def test_pure_core_does_not_reach_ros():
    """Only *_node.py, ros_common, runner and cli may touch rclpy or message packages, and
    no other module (nor the flight-core harness) reaches them through what it imports,
    followed to the end, lazy imports inside functions included."""
    pure = [p for p in (ROOT / 'chang_e_rover').rglob('*.py') if not _ros_facing(p)]
    for start in pure + [ROOT / 'test' / 'harness.py']:
        seen, todo = {start: [start]}, [start]
        while todo:
            path = todo.pop()
            chain = ' -> '.join(str(p.relative_to(ROOT)) for p in seen[path])
            assert not _ros_facing(path), f'{chain}: a pure module reaches a ROS-facing one'
            assert not ROS_IMPORT.search(path.read_text()), f'{chain}: imports ROS'
            for dep in _project_imports(path) - seen.keys():
                seen[dep] = seen[path] + [dep]
                todo.append(dep)


def test_restart_policy_backs_off_then_gives_up():
    tracker = RestartTracker(RestartPolicy(max_restarts=3, window_s=60, backoff_s=0.5,
                                           backoff_max_s=1.5))
    assert [tracker.on_death(t) for t in (0, 1, 2)] == [0.5, 1.0, 1.5]
    assert tracker.on_death(3) is None
    fresh = RestartTracker(RestartPolicy(max_restarts=3, window_s=60))
    for t in (0, 1, 2):
        fresh.on_death(t)
    assert fresh.on_death(100) == pytest.approx(0.5)   # old deaths left the window
