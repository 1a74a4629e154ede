"""Simulated science payloads and the validity checks the relay applies (no ROS)."""
import numpy as np

from chang_e_rover.science.instruments import (
    C, LPR_SAMPLES, LPR_WINDOW_NS, NAA_BINS, NeutralAtomAnalyser, PenetratingRadar, subsurface,
    validate_lpr, validate_naa)


def test_radar_echo_of_the_regolith_base_arrives_at_its_two_way_time():
    radar = PenetratingRadar(seed=4, noise=0.0)
    trace = radar.trace(0.0)
    assert trace.shape == (LPR_SAMPLES,) and validate_lpr(trace) == (True, '')
    top, base = subsurface(4)[:2]
    depth = base.depth_m + 0.3 * np.sin(base.permittivity)        # the undulation at x = 0
    expected_ns = 2e9 * depth * np.sqrt(top.permittivity) / C + 2.0
    t_ns = np.arange(LPR_SAMPLES) * LPR_WINDOW_NS / LPR_SAMPLES
    late = t_ns > 20.0                                           # past the direct coupling
    peak_ns = t_ns[late][np.argmax(np.abs(trace[late]))]
    assert abs(peak_ns - expected_ns) < 2.0, (peak_ns, expected_ns)


def test_radar_and_analyser_faults_are_caught_by_their_checks():
    radar = PenetratingRadar(seed=1, fault_rate=1.0)
    verdicts = [validate_lpr(radar.trace(float(i))) for i in range(20)]
    assert all(not ok for ok, _ in verdicts)
    reasons = {r.split()[-1] for _, r in verdicts}
    assert reasons == {'finite', 'saturated'}
    naa = NeutralAtomAnalyser(seed=1, fault_rate=1.0)
    assert not validate_naa(naa.spectrum(2.0))[0]


def test_analyser_counts_follow_the_spectrum():
    naa = NeutralAtomAnalyser(seed=2, flux=2000.0)
    spectra = np.array([naa.spectrum(2.0) for _ in range(200)])
    assert all(validate_naa(s)[0] for s in spectra)
    assert spectra.shape == (200, NAA_BINS)
    assert abs(spectra[:, 0].mean() - 4000.0) < 3 * np.sqrt(4000.0 / 200) * 3
    assert np.all(np.diff(spectra.mean(axis=0)) < 0), 'a falling power law'


def test_checks_refuse_wrong_shapes():
    assert not validate_lpr(np.zeros(10))[0]
    assert not validate_naa(np.zeros(NAA_BINS + 1))[0]
    assert not validate_naa(np.full(NAA_BINS, 0.5))[0]
