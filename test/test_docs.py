"""docs/interfaces.md agrees with the code: every parameter and topic is documented."""
import ast
from pathlib import Path
import re

from chang_e_rover import config

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / 'docs' / 'interfaces.md').read_text()


def _documented(name: str) -> bool:
    if f'`{name}`' in DOC or f'`{name}` ' in DOC or name in DOC:
        return True
    # families: fault.wheel_lf is documented as fault.wheel_<id>, camera.hazcam.width as camera.hazcam.*
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
             'relay_node.py': '/lander/', 'hazard_node.py': '/rover/', 'camera_node.py': '/lander/',
             'sequencer_node.py': '/lander/', 'recorder_node.py': '/',
             'live_node.py': '/', 'operator_node.py': '/'}


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
