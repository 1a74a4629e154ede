"""The figures of the mission's report page (mission/html_report.py), as PNG bytes.

Pure (no rclpy): matplotlib's object interface on its Agg renderer (no pyplot, no
display), imported inside the functions so that importing the mission costs nothing
until a page is drawn. Times on the axes are sim seconds from the mission's start.
"""
from __future__ import annotations

import io
import math

import numpy as np

from chang_e_rover.mission.timeline import Timeline

FIGURE_DPI = 100
STATE_COLOURS = {'WAITING': '#9e9e9e', 'CONFIRM': '#64b5f6', 'ACTIVE': '#1e88e5',
                 'HOLD': '#e53935', 'DONE': '#43a047', 'COMPLETE': '#43a047'}
TIME_LABEL = 'time from the mission start (s, sim)'


def traverse(s: dict, tl: Timeline, hazard_map) -> tuple[bytes, list[str]]:
    """The paths, goals, lander and rocks over the hazard map's cost grid (odom, m); the PNG
    and notes on what is not in this run."""
    from matplotlib.patches import Patch
    from matplotlib.patheffects import withStroke
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar
    fig, (ax,) = _figure(11, 9)
    handles, notes = [], []
    if hazard_map is not None:
        from chang_e_rover.hazard.render import render_cost_map
        cost, (x0, y0), res = hazard_map
        cost = np.asarray(cost)
        ax.imshow(render_cost_map(cost, x0, y0, res, scale=1), origin='upper',
                  extent=(x0, x0 + cost.shape[1] * res, y0, y0 + cost.shape[0] * res),
                  interpolation='nearest')
        # the colours of hazard/render.py
        handles += [Patch(color='#5a5a5a', label='map: unknown'),
                    Patch(color='#28aa3c', label='map: free (to amber: costly)'),
                    Patch(color='#d21e1e', label='map: untraversable')]
    else:
        notes.append('hazard map: not in this run')
    if len(tl.truth):
        # a white halo keeps the path readable over any cost colour
        handles += ax.plot(tl.truth.column('x'), tl.truth.column('y'), '-', color='black',
                           lw=1.6, label='ground truth path',
                           path_effects=[withStroke(linewidth=3.5, foreground='white')])
    if len(tl.odom):
        handles += ax.plot(tl.odom.column('x'), tl.odom.column('y'), '--', color='#1565c0',
                           lw=1.6, label='odometry path')
    for i, (_, x, y, leg) in enumerate(tl.goals.items):
        line, = ax.plot([x], [y], 'X', ms=11, color='#6a1b9a', mec='white', label='goals')
        handles += [line] if i == 0 else []
        ax.annotate(leg, (x, y), textcoords='offset points', xytext=(6, 6), fontsize=9)
    if tl.lander_xy is not None:
        handles += ax.plot(*tl.lander_xy, 's', ms=14, color='#ffb300', mec='black',
                           label='lander')
    rocks = (s.get('crossing') or {}).get('rocks')
    if rocks is None:
        notes.append('rocks passed: not in this run')
    else:
        near = [n for n in rocks.get('near') or [] if n in tl.rocks]
        if near:
            xy = np.array([tl.rocks[n] for n in near])
            handles += ax.plot(xy[:, 0], xy[:, 1], '^', ms=9, color='#8d6e63', mec='black',
                               label=f'tall rocks passed ({len(near)})')
        hit = [tl.rocks[n] for n in rocks.get('touched') or [] if n in tl.rocks]
        if hit:
            xy = np.array(hit)
            handles += ax.plot(xy[:, 0], xy[:, 1], 'o', ms=14, mfc='none', mec='red', mew=2,
                               label='tall rocks touched')
    ax.set_xlabel('x (m)')
    ax.set_ylabel('y (m)')
    ax.set_aspect('equal')
    span = ax.get_xlim()[1] - ax.get_xlim()[0]
    bar = round_length(span / 5)
    ax.add_artist(AnchoredSizeBar(ax.transData, bar, f'{bar:g} m', 'lower right', pad=0.5,
                                  color='black', frameon=True, size_vertical=span / 200))
    ax.legend(handles=handles, loc='upper left', fontsize=9, framealpha=0.9)
    ax.set_title('the traverse over the hazard map (odom frame)')
    return _png(fig), notes


def round_length(target: float) -> float:
    """1, 2 or 5 times a power of ten, at most target (1 when target is not > 0)."""
    if not (math.isfinite(target) and target > 0):
        return 1.0
    power = 10 ** math.floor(math.log10(target))
    return max(m * power for m in (1, 2, 5) if m * power <= target)


def fault_marks(s: dict) -> list[tuple[float, str, str]]:
    """(s from the start, label, colour) of the injected wheel fault and its detection."""
    f = s.get('wheel_failure') or {}
    marks, injected = [], f.get('injected_at_s')
    if injected is not None:
        marks.append((injected, f'{f.get("fault")} injected on {f.get("wheel")}', '#d32f2f'))
        if f.get('detected') and f.get('detected_after_s') is not None:
            marks.append((injected + f['detected_after_s'],
                          f'detected ({f.get("reported_fault")})', '#ef6c00'))
    return marks


def wheels(s: dict, tl: Timeline) -> bytes:
    """Each wheel's speed, current and temperature, the injection and detection marked."""
    fig, axes = _figure(11, 8.5, 3)
    faulty = (s.get('wheel_failure') or {}).get('wheel')
    for wheel in sorted(tl.wheels):
        series = tl.wheels[wheel]
        t = [tl.since_start(x) for x in series.t]
        style = {'lw': 2.2 if wheel == faulty else 1.0, 'label': f'wheel {wheel}'}
        for ax, key in zip(axes, ('speed_rad_s', 'current_a', 'temperature_c')):
            ax.plot(t, series.column(key), **style)
    for ax, label in zip(axes, ('speed (rad/s)', 'current (A)', 'temperature (deg C)')):
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        for (x, text, colour), side in zip(fault_marks(s), ('right', 'left')):
            ax.axvline(x, color=colour, ls='--', lw=1.2)
            # the injection's label left of its line, the detection's right of its own
            ax.annotate(text, (x, 0.98), xycoords=('data', 'axes fraction'), rotation=90,
                        va='top', ha=side, fontsize=8, color=colour,
                        textcoords='offset points', xytext=(-2 if side == 'right' else 2, 0))
    fig.legend(*axes[0].get_legend_handles_labels(), loc='outside upper center', ncol=6,
               fontsize=9)
    axes[-1].set_xlabel(TIME_LABEL)
    return _png(fig)


def deployment(tl: Timeline) -> tuple[bytes, list[tuple[str, str, str, str]]]:
    """The sequencer's steps over time, coloured by state; the PNG and the holds (from s,
    for s, step, reason)."""
    from matplotlib.patches import Patch
    events = tl.sequencer.items
    steps = list(dict.fromkeys(e[1] for e in events))
    fig, (ax,) = _figure(11, 0.5 * len(steps) + 1.6)
    # the last state lasts until the mission left the deploy phase, when it did
    after = [t for (t, name, _), prev in zip(tl.phases.items[1:], tl.phases.items)
             if prev[1] == 'deploy']
    end = max(events[-1][0] + 1.0, after[0] if after else -math.inf)
    holds = []
    for i, (t, step, state, reason) in enumerate(events):
        t1 = events[i + 1][0] if i + 1 < len(events) else end
        ax.barh(steps.index(step), t1 - t, left=tl.since_start(t),
                color=STATE_COLOURS.get(state, '#bdbdbd'), height=0.6)
        if state == 'HOLD':
            holds.append((f'{tl.since_start(t):.1f}', f'{t1 - t:.1f}', step, reason))
    ax.set_yticks(range(len(steps)), steps)
    ax.invert_yaxis()
    ax.set_xlabel(TIME_LABEL)
    ax.grid(axis='x', alpha=0.3)
    fig.legend(handles=[Patch(color=STATE_COLOURS.get(k, '#bdbdbd'), label=k.lower())
                        for k in dict.fromkeys(e[2] for e in events)],
               loc='outside right upper', fontsize=9)
    return _png(fig), holds


def relay(tl: Timeline) -> bytes:
    """The relay's queue depth, the goodput on the ground and the relay's send rate."""
    fig, (top, bottom) = _figure(11, 6, 2)
    lines = []
    if len(tl.relay):
        top.plot([tl.since_start(x) for x in tl.relay.t], tl.relay.column('queued_packets'),
                 color='#5d4037')
    top.set_ylabel('relay queue (packets)')
    top.grid(alpha=0.3)
    if len(tl.goodput):
        mids, rate = tl.rates(tl.goodput, 'payload_bytes')
        lines += bottom.plot(mids, [8e-3 * r for r in rate], color='#2e7d32',
                             label='goodput: payload delivered on the ground (kbit/s)')
    bottom.set_ylabel('kbit/s')
    if len(tl.relay):
        mids, rate = tl.rates(tl.relay, 'sent_packets')
        right = bottom.twinx()
        lines += right.plot(mids, rate, color='#1565c0', lw=0.8,
                            label='relay packets sent per s (repeats included)')
        right.set_ylabel('packets/s')
    bottom.legend(handles=lines, loc='upper left', fontsize=8)
    bottom.set_xlabel(TIME_LABEL)
    bottom.grid(alpha=0.3)
    return _png(fig)


def _figure(width_in: float, height_in: float, rows: int = 1):
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width_in, height_in), dpi=FIGURE_DPI, layout='constrained')
    return fig, fig.subplots(rows, 1, sharex=rows > 1, squeeze=False)[:, 0]


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format='png')      # a bare Figure renders with Agg
    return buf.getvalue()
