"""The docs agree with the code: parameters, defaults and topics; bench tables with results."""
import ast
import importlib.util
from pathlib import Path
import re

import pytest

from chang_e_rover import config

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / 'docs' / 'interfaces.md').read_text()


@pytest.fixture(autouse=True)
def repository_config(monkeypatch):
    """The docs describe the repository's config/, not a test worker's copy of it with its
    ports moved (test/isolation.py)."""
    monkeypatch.setenv('CHANG_E_ROVER_SHARE', str(ROOT))
    config.load_params.cache_clear()
    yield
    config.load_params.cache_clear()


def _documented(name: str) -> bool:
    if f'`{name}`' in DOC or f'`{name}` ' in DOC or name in DOC:
        return True
    # families: fault.wheel_lf is documented as fault.wheel_<id>, camera.hazcam.width as
    # camera.hazcam.*
    generic = re.sub(r'wheel_(lf|lm|lr|rf|rm|rr)', 'wheel_<id>', name)
    parts = name.split('.')
    return (generic in DOC or any('.'.join(parts[:i]) + '.*' in DOC for i in range(1, len(parts))))


def test_every_parameter_is_documented():
    missing = []
    for file_name, section in (('sim.yaml', 'sim'), ('rover.yaml', 'drive_controller'),
                               ('rover.yaml', 'wheel_unit'), ('hardware.yaml', 'hardware'),
                               ('rover.yaml', 'science'), ('rover.yaml', 'hazard_camera'),
                               ('relay.yaml', 'relay'), ('lander.yaml', 'camera'),
                               ('lander.yaml', 'sequencer'),
                               ('relay.yaml', 'link'), ('relay.yaml', 'ground')):
        for name in config.load_params(file_name, section):
            if not _documented(name):
                missing.append(f'{file_name}:{name}')
    assert not missing, missing


NAMESPACE = {'controller_node.py': '/rover/', 'wheel_node.py': '/rover/',
             'sim_node.py': '/', 'mission_node.py': '/', 'science_node.py': '/rover/',
             'relay_node.py': '/lander/', 'hazard_node.py': '/rover/',
             'camera_node.py': '/lander/', 'sequencer_node.py': '/lander/',
             'recorder_node.py': '/', 'live_node.py': '/', 'operator_node.py': '/',
             'probe_node.py': '/', 'link_node.py': '/'}


def topics_in_code() -> set[str]:
    """Fully resolved topic and service names created by the nodes (<id> for placeholders)."""
    found = set()
    for path in (ROOT / 'chang_e_rover').rglob('*_node.py'):
        ns = NAMESPACE[path.name]
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ('create_publisher', 'create_subscription',
                                           'create_service') and len(node.args) >= 2):
                arg = node.args[1]
                if isinstance(arg, ast.Constant):
                    name = arg.value
                elif isinstance(arg, ast.JoinedStr):
                    name = ''.join(v.value if isinstance(v, ast.Constant) else '<id>'
                                   for v in arg.values)
                else:
                    continue
                found.add(name if name.startswith('/') else ns + name)
    return found


def expand(name: str) -> list[str]:
    """Expand a leading placeholder: camera topic prefixes and robots of the sim node."""
    from chang_e_rover.sim.sim_node import CAMERA_TOPICS
    if name.startswith('/<id>/'):
        rest = name[len('/<id>/'):]
        camera = 'image' in rest or 'camera' in rest or rest == 'capture'
        prefixes = CAMERA_TOPICS.values() if camera else ('rover', 'lander')
        return [f'/{p}/{rest}' for p in prefixes]
    return [name]


def test_every_topic_and_service_is_documented():
    names = [n for name in topics_in_code() for n in expand(name)]
    missing = [n for n in names if f'`{n}`' not in DOC and f'{n}`' not in DOC]
    assert not missing, missing
    assert len(names) > 20


def test_apid_and_telecommand_tables_agree_with_the_code():
    from chang_e_rover.relay import packets
    from chang_e_rover.relay.telecommands import TELECOMMANDS
    relay = config.load_params('relay.yaml', 'relay')
    table = {m[0]: m[1] for m in re.findall(r'^\| `(0x[0-9a-f]{3})` \| (TM|TC) \|', DOC, re.M)}
    for name in relay['downlink.products']:
        apid = f'{relay[f"downlink.{name}.apid"]:#05x}'
        assert apid in table, f'downlink.{name} APID {apid} not in the table'
        row = re.search(rf'^\| `{apid}` .*$', DOC, re.M).group(0)
        assert relay[f'downlink.{name}.topic'] in row
        assert f'| {relay[f"downlink.{name}.priority"]} |' in row
    for apid in (packets.APID_RELAY_STATUS, packets.APID_VERIFICATION, packets.APID_TELECOMMAND,
                 packets.APID_ACK):
        assert f'{apid:#05x}' in table
    for op in TELECOMMANDS:
        assert re.search(rf'^\| `{op.code:#04x}` \| `{op.name}` \|', DOC, re.M), op.name


# Documented defaults agree with config/: every parameter table row that states a default.

WHEEL_IDS = ('lf', 'lm', 'lr', 'rf', 'rm', 'rr')
NOT_STATED = {'', 'list', 'see file', '(none)', '(all)'}


def _split(cell: str) -> list[str]:
    """Split a table cell at commas outside brackets and backticks."""
    parts, depth, quoted, current = [], 0, False, ''
    for ch in cell:
        quoted ^= ch == '`'
        depth += (ch == '[') - (ch == ']')
        if ch == ',' and not depth and not quoted:
            parts.append(current.strip())
            current = ''
        else:
            current += ch
    return parts + [current.strip()]


def _value(text: str):
    """Read a documented default as a value: number, bool, list or string."""
    text = text.strip()
    if len(text) > 1 and text[0] == text[-1] == '`':
        text = text[1:-1]
    if text in ("''", '""'):
        return ''
    if text.startswith('[') and text.endswith(']'):
        return [_value(v) for v in _split(text[1:-1])] if text[1:-1].strip() else []
    if text in ('true', 'false'):
        return text == 'true'
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _same(documented, configured) -> bool:
    if isinstance(configured, list):
        return (isinstance(documented, list) and len(documented) == len(configured)
                and all(_same(d, c) for d, c in zip(documented, configured)))
    if isinstance(configured, bool) or isinstance(documented, bool):
        return documented is configured
    if isinstance(configured, (int, float)):
        return (isinstance(documented, (int, float))
                and abs(documented - configured) <= 1e-9 * max(1.0, abs(configured)))
    return documented == configured


def _names(cell: str) -> list[str]:
    """Parameter names of a row's first cell: `a.b`, `.c` is a.c; a family `a.*` is none."""
    names, prefix = [], ''
    for token in re.findall(r'`([^`]+)`', cell):
        name = prefix + token[1:] if token.startswith('.') else token
        prefix = name[:name.rfind('.') + 1]
        if '*' not in name:
            names.append(name)
    return names


def documented_defaults(doc: str = DOC) -> list[tuple[str, str, str, str, str]]:
    """Return (file, section, parameter, documented default, row) for each row stating one."""
    found = []
    params = doc[doc.index('\n## Parameters\n'):]
    params = params[:params.index('\n## ', 1)]
    for block in re.split(r'\n(?=### )', params):
        where = re.match(r'### .*`config/(\w+)\.yaml`(?:, section `(\w+)`)?', block)
        lines = block.splitlines()
        header = next((i for i, line in enumerate(lines) if line.startswith('| parameter |')),
                      None)
        if not where or header is None:
            continue
        file_name, section = where.group(1) + '.yaml', where.group(2) or where.group(1)
        columns = [c.strip() for c in lines[header].strip('|').split('|')]
        name_col, default_col = columns.index('parameter'), columns.index('default')
        for row in lines[header + 2:]:
            if not row.startswith('|'):
                break
            # cells split at ' | ', an empty one (' | | ') included
            cells = [c.strip() for c in re.split(r' \|(?= )', row.strip().strip('|'))]
            names, cell = _names(cells[name_col]), cells[default_col]
            if cell in NOT_STATED or not names:
                continue
            values = [cell] if len(names) == 1 else _split(cell)
            if len(values) == 1:
                values = values * len(names)
            assert len(values) == len(names), (
                f'{file_name}: {len(names)} names, {len(values)} defaults in {row[:80]}')
            for name, value in zip(names, values):
                if value in NOT_STATED or '<name>' in name:
                    continue
                for each in ([name.replace('<id>', w) for w in WHEEL_IDS] if '<id>' in name
                             else [name]):
                    found.append((file_name, section, each, value, row[:60]))
    return found


def default_mismatches(rows: list[tuple[str, str, str, str, str]]) -> list[str]:
    """Return a line for each documented default that config/ does not hold."""
    wrong = []
    for file_name, section, name, documented, row in rows:
        params = config.load_params(file_name, section)
        if name not in params:
            wrong.append(f'{file_name} {section}: {name} documented ({row}) but not in config')
            continue
        configured = params[name]
        value = _value(documented)
        if isinstance(configured, list) and not isinstance(value, list):
            value = [_value(v) for v in _split(documented)]
        if not _same(value, configured):
            wrong.append(f'{file_name} {section}: {name} documented {documented}, '
                         f'config {configured!r}')
    return wrong


def test_documented_defaults_equal_config():
    rows = documented_defaults()
    wrong = default_mismatches(rows)
    assert not wrong, '\n'.join(wrong)
    # every parameter table was read: a changed table layout must not silence the check
    assert {(f, s) for f, s, *_ in rows} >= {
        ('lander.yaml', 'camera'), ('lander.yaml', 'sequencer'), ('sim.yaml', 'sim'),
        ('rover.yaml', 'drive_controller'), ('rover.yaml', 'hazard_camera'),
        ('rover.yaml', 'wheel_unit'), ('rover.yaml', 'science'), ('relay.yaml', 'relay'),
        ('relay.yaml', 'link'), ('relay.yaml', 'ground'), ('record.yaml', 'recorder'),
        ('live.yaml', 'live')}
    assert len(rows) > 250


def test_documented_hardware_figures_equal_config():
    hardware = config.load_params('hardware.yaml', 'hardware')
    figures = re.findall(r'`(motor\.[\w.]+)` ([-+]?\d[\d.]*(?:e[-+]?\d+)?)', DOC)
    wrong = [f'{name} documented {text}, config {hardware.get(name)!r}'
             for name, text in figures if not _same(_value(text.rstrip('.')), hardware.get(name))]
    assert not wrong, wrong
    assert len(figures) >= 10


def test_the_default_check_can_fail():
    row = '| `max_speed_m_s` | 0.0556 |'
    assert row in DOC
    edited = documented_defaults(DOC.replace(row, '| `max_speed_m_s` | 0.0557 |'))
    assert default_mismatches(edited) == [
        'rover.yaml drive_controller: max_speed_m_s documented 0.0557, config 0.0556']
    assert not _same(_value('0.10'), 0.2)
    assert not _same(_value('true'), 1)
    assert not _same(_value('[0, 1]'), [0, 0])
    assert _same(_value('`relay/store.sqlite`'), 'relay/store.sqlite')
    assert _same(_value("''"), '')
    assert _names('`timeout_s.*` (`timeout_s.checkout`, `.survey`)') == [
        'timeout_s.checkout', 'timeout_s.survey']


# Measured figures in docs/ are generated from bench/results/ (bench/docs_tables.py).

def _docs_tables():
    spec = importlib.util.spec_from_file_location('docs_tables', ROOT / 'bench' / 'docs_tables.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


QUOTED = {'sim': 'simulator.md', 'relay': 'relay.md', 'board': 'simulator.md',
          'latency': 'drive.md', 'montecarlo': 'drive.md', 'hazard': 'hazard.md',
          'hazard_recall_flown': 'hazard.md', 'panorama': 'lander.md', 'look': 'drive.md',
          'stack': 'simulator.md', 'mast': 'drive.md'}


def test_bench_tables_in_docs_equal_bench_results():
    tables = _docs_tables()
    quoted = {}
    for path in sorted((ROOT / 'docs').glob('*.md')):
        text = path.read_text()
        for name, body in tables.regions(text):
            quoted[name] = path.name
            assert body == tables.render(name), (
                f'docs/{path.name} region bench:{name} differs from bench/results/{name}.json; '
                'run .venv/bin/python bench/docs_tables.py\n'
                + tables.diff(path, text, tables.regenerate(text)))
    assert quoted == QUOTED


def test_a_figure_edited_by_hand_is_caught():
    tables = _docs_tables()
    path = ROOT / 'docs' / 'simulator.md'
    text = path.read_text()
    body = dict(tables.regions(text))['sim']
    row = next(line for line in body.splitlines() if line.startswith('| physics only'))
    edited = text.replace(row, row.replace(' | 1', ' | 9', 1))
    assert edited != text
    assert tables.regenerate(edited) == tables.regenerate(text) != edited
    assert f'-{row.replace(" | 1", " | 9", 1)}' in tables.diff(path, edited,
                                                               tables.regenerate(edited))
