"""The drive's watches on itself, one at a time (drive/monitors.py, drive/wheel_view.py)."""
from chang_e_rover import config
from chang_e_rover.drive.monitors import ArcCheck, CornerTrust, StallRetry
from chang_e_rover.drive.wheel_view import BACK_IN_SERVICE, STALLED, WheelViews
from chang_e_rover.robot_description import load_urdf, rover_geometry, WHEEL_IDS

GEOMETRY = rover_geometry(load_urdf(config.urdf_path('rover.urdf')))
P = config.load_params('rover.yaml', 'drive_controller')
PERIOD = 1.0 / P['control_rate_hz']


class Notes(list):
    def __call__(self, t, wheel, what):
        self.append((wheel, what))


def test_a_unit_silent_for_node_lost_s_is_lost_until_heard_again():
    notes = Notes()
    view = WheelViews(P, 0.0, notes)
    for w in WHEEL_IDS:
        view.status(w, 'ENABLED', 'none', 0.0)
    assert view.healthy(P['node_lost_s'] + 0.1) == []
    assert view.fault_of('lf') == 'node_lost' and len(notes) == 6
    assert view.status('lf', 'FAULT', 'stall', 1.0) == STALLED
    assert ('lf', 'heard again') in notes and ('lf', 'fault: stall') in notes
    assert view.status('lf', 'ENABLED', 'none', 1.1) == BACK_IN_SERVICE
    assert view.healthy(1.2) == ['lf']


def test_a_unit_never_heard_is_lost_only_once_its_boot_time_is_over():
    notes = Notes()
    view = WheelViews(P, 2.0, notes)
    view.status('lf', 'ENABLED', 'none', 2.0)
    booting = view.healthy(2.0 + P['node_boot_s'] - 0.1)
    assert 'lm' in booting and view.fault_of('lm') != 'node_lost' and \
        ('lf', 'node_lost') in notes and len(notes) == 1, 'the one heard goes silent: lost'
    assert 'lm' not in view.healthy(2.0 + P['node_boot_s'] + 0.1)
    assert view.fault_of('lm') == 'node_lost' and len(notes) == 6


def test_a_stall_again_within_watch_s_of_its_retry_is_seized_and_never_retried():
    notes = Notes()
    view, retry = WheelViews(P, 0.0, Notes()), StallRetry(P, notes)
    view.status('rr', 'FAULT', 'stall', 0.0)
    retry.stalled('rr', 0.0, (0.0, 0.0))
    after = P['stall_retry.after_m']
    assert retry.retries(1.0, (after - 0.01, 0.0), view.views, driving=False) == ([], [])
    assert retry.retries(2.0, (after, 0.0), view.views, driving=False) == (['rr'], [])
    retry.stalled('rr', 2.0 + P['stall_retry.watch_s'] - 0.1, (after, 0.0))
    assert retry.records['rr'].seized and 'seized' in notes[-1][1]
    assert retry.retries(60.0, (10.0, 0.0), view.views, driving=False) == ([], [])


def test_held_stalls_of_a_goal_drive_are_retried_together_after_held_s():
    view, retry = WheelViews(P, 0.0, Notes()), StallRetry(P, Notes())
    for i, w in enumerate(('lf', 'rf')):
        view.status(w, 'FAULT', 'stall', i)
        retry.stalled(w, float(i), (0.0, 0.0))
    held_s = P['stall_retry.held_s']
    assert retry.retries(held_s, (0.0, 0.0), view.views, driving=False) == ([], [])
    assert retry.retries(held_s, (0.0, 0.0), view.views, driving=True) == (['lf', 'rf'],
                                                                            ['lf', 'rf'])
    retry.stalled('lf', held_s + 1.0, (0.0, 0.0))
    assert not retry.records['lf'].seized, 'a stall after a held retry is no verdict'


def test_a_held_wheel_is_retried_turned_the_other_way_and_a_stall_then_is_seized():
    # A rock holds a wheel one way and it turns back off it as the rover backs; a seized
    # motor holds both ways. Retried as the back-off begins, still pushed forward, either
    # stalls again (harness, the campaign's seed-34 draw at k = 3: lf reset 12 times).
    held_s, watch_s = P['stall_retry.held_s'], P['stall_retry.watch_s']
    notes = Notes()
    view, retry = WheelViews(P, 0.0, Notes()), StallRetry(P, notes)
    view.status('lf', 'FAULT', 'stall', 0.0)
    retry.stalled('lf', 0.0, (0.0, 0.0), way=1)            # pushing forward
    assert retry.retries(held_s, (0.0, 0.0), view.views, driving=True, v=0.05) == ([], ['lf'])
    assert 'backs off' in notes[-1][1]
    # the back-off begins: the drive still forward as it slows, then reversed
    assert retry.retries(held_s + 0.5, (0.0, 0.0), view.views, driving=False, v=0.01) == \
        ([], [])
    assert retry.retries(held_s + 1.0, (0.0, 0.0), view.views, driving=False, v=-0.01) == \
        (['lf'], [])
    retry.stalled('lf', held_s + 1.5, (0.0, 0.0), way=-1)
    assert retry.records['lf'].seized and 'other way' in notes[-1][1]
    # a wheel that turns back off its rock is not judged: its next stall, later, is retried
    view, retry = WheelViews(P, 0.0, Notes()), StallRetry(P, Notes())
    view.status('rf', 'FAULT', 'stall', 0.0)
    retry.stalled('rf', 0.0, (0.0, 0.0), way=1)
    retry.retries(held_s, (0.0, 0.0), view.views, driving=True, v=0.05)
    assert retry.retries(held_s + 1.0, (0.0, 0.0), view.views, driving=False, v=-0.01)[0] == ['rf']
    retry.stalled('rf', held_s + 1.0 + watch_s + 0.1, (0.0, 0.0), way=1)
    assert not retry.records['rf'].seized
    # where the drive does not back off, the waiting wheel is retried at once, pushing on,
    # and a stall after that is no verdict
    view, retry = WheelViews(P, 0.0, Notes()), StallRetry(P, Notes())
    view.status('rr', 'FAULT', 'stall', 0.0)
    retry.stalled('rr', 0.0, (0.0, 0.0), way=1)
    assert retry.retries(held_s, (0.0, 0.0), view.views, driving=True, v=0.05)[1] == ['rr']
    assert retry.retry_waiting(held_s) == ['rr']
    retry.stalled('rr', held_s + 0.5, (0.0, 0.0), way=1)
    assert not retry.records['rr'].seized


def test_a_corner_off_its_target_for_steer_fault_s_is_untrusted_but_not_while_slewing():
    notes = Notes()
    corners = CornerTrust(GEOMETRY, P, notes)
    corners.command({w: 0.0 for w in corners.commanded} | {'lf': 0.5})
    angle, t = 0.0, 0.0
    while t < P['steer_fault_s'] + 2.0:         # slewing at the servo's rate: following
        angle = min(0.5, angle + GEOMETRY.steer_rate * PERIOD)
        corners.measure({'lf': angle})
        corners.check(t)
        t += PERIOD
    assert not corners.untrusted
    corners.command({w: 0.0 for w in corners.commanded} | {'lf': -0.5})
    end = t + P['steer_fault_s'] + 1.5
    while t < end:                               # stuck at +0.5
        corners.check(t)
        t += PERIOD
    assert corners.untrusted == {'lf'} and notes[-1] == ('lf', 'steering untrusted: '
                                                         'skid-steer fallback')


def test_an_arc_the_gyro_does_not_see_is_held_after_held_s_and_taking_it_starts_again():
    v = 0.05
    check = ArcCheck(P, v)
    omega = v * 2 * P['arc_check.min_curvature']
    t = 0.0
    while t < 3.0:
        check.update(t, PERIOD, v, omega, 0.25 * omega, holding=False)
        t += PERIOD
    assert check.slipping() and abs(check.followed - 0.25) < 0.05
    assert check.take_hold(t) is None
    while t < 3.0 + P['arc_check.held_s'] + 0.5:
        check.update(t, PERIOD, v, omega, 0.25 * omega, holding=False)
        t += PERIOD
    assert abs(check.take_hold(t) - 0.25) < 0.05 and check.take_hold(t) is None
    check.update(t, PERIOD, v, 0.0, 0.0, holding=False)       # straight: nothing to say
    assert check.followed is None and not check.slipping()
