"""Simulated science payloads and their validity checks. Pure Python and numpy.

Two of Chang'e 4's rover payloads:

- the Lunar Penetrating Radar (LPR, China): channel 2 at 500 MHz sounds the
  regolith under the rover. A trace is the echo of a Ricker wavelet from the
  layer boundaries of a seeded subsurface (regolith over ejecta layers, after
  Li et al. 2020, Science Advances 6: about 12 m of regolith, then coarser
  layers), with two-way time t = 2 d sqrt(eps) / c, loss with depth and noise;
- the Advanced Small Analyzer for Neutrals (ASAN, Sweden): energetic neutral
  atoms scattered from the surface, counted in energy bins (Poisson counts on
  a power-law spectrum, Wieser et al. 2020).

Each instrument can produce bad data on purpose (`fault_rate`): saturation or
dropped samples for the radar, a noisy detector for the analyser. The
validity checks here are the one definition the relay applies before
downlink; invalid data is flagged, never dropped.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

C = 299_792_458.0

LPR_SAMPLES = 2048
LPR_WINDOW_NS = 640.0              # sampling window: about 45 m of regolith at eps 3.2
LPR_FREQ_HZ = 500e6                # channel 2 centre frequency
LPR_FULL_SCALE = 1.0               # digitizer full scale after normalisation
LPR_MAX_CLIPPED = 0.01             # at most 1 % of samples at full scale
NAA_BINS = 16
NAA_ENERGY_EV = np.geomspace(10.0, 3300.0, NAA_BINS)    # ASAN: 10 eV to 3.3 keV
NAA_MAX_COUNTS = 50_000            # per bin per integration: detector saturation


@dataclass(frozen=True)
class Layer:
    depth_m: float
    permittivity: float


def subsurface(seed: int) -> list[Layer]:
    """Return a seeded layered subsurface: regolith, then ejecta and fractured basalt."""
    rng = np.random.default_rng(seed)
    layers = [Layer(0.0, 3.0)]
    depth = rng.uniform(10.0, 14.0)       # the regolith Yutu-2's LPR found ~12 m thick
    for eps in (4.0, 4.5, 5.5):
        layers.append(Layer(depth, eps + rng.uniform(-0.3, 0.3)))
        depth += rng.uniform(4.0, 12.0)
    return layers


def ricker(t: np.ndarray, f: float) -> np.ndarray:
    a = (np.pi * f * t) ** 2
    return (1.0 - 2.0 * a) * np.exp(-a)


class PenetratingRadar:
    """LPR channel 2 traces over a seeded subsurface."""

    def __init__(self, seed: int, noise: float = 0.01, fault_rate: float = 0.0):
        self.layers = subsurface(seed)
        self.rng = np.random.default_rng(seed + 1)
        self.noise, self.fault_rate = noise, fault_rate
        self.t = np.linspace(0.0, LPR_WINDOW_NS * 1e-9, LPR_SAMPLES, endpoint=False)

    def trace(self, along_track_m: float) -> np.ndarray:
        """Return one trace (LPR_SAMPLES float32) at a distance along the traverse."""
        out = 0.6 * ricker(self.t - 2e-9, LPR_FREQ_HZ)       # direct coupling
        time_s = 0.0
        for upper, lower in zip(self.layers, self.layers[1:]):
            # Boundaries undulate a little along the track.
            depth = lower.depth_m + 0.3 * np.sin(0.4 * along_track_m + lower.permittivity)
            thickness = depth - upper.depth_m
            time_s += 2.0 * thickness * np.sqrt(upper.permittivity) / C
            n1, n2 = np.sqrt(upper.permittivity), np.sqrt(lower.permittivity)
            reflection = (n1 - n2) / (n1 + n2)
            loss = np.exp(-0.04 * depth)                       # attenuation and spreading
            out += 4.0 * reflection * loss * ricker(self.t - 2e-9 - time_s, LPR_FREQ_HZ)
        out += self.rng.normal(0.0, self.noise, out.shape)
        if self.rng.random() < self.fault_rate:
            if self.rng.random() < 0.5:
                out *= 40.0                                    # gain fault: saturates
            else:
                out[self.rng.integers(0, LPR_SAMPLES // 2):] = np.nan   # dropped samples
        return np.clip(out, -LPR_FULL_SCALE, LPR_FULL_SCALE).astype(np.float32)


class NeutralAtomAnalyser:
    """ASAN energetic-neutral-atom spectra."""

    def __init__(self, seed: int, flux: float = 2000.0, fault_rate: float = 0.0):
        self.rng = np.random.default_rng(seed + 2)
        self.flux, self.fault_rate = flux, fault_rate

    def spectrum(self, integration_s: float) -> np.ndarray:
        """Return counts per energy bin (float32) for one integration."""
        mean = self.flux * integration_s * (NAA_ENERGY_EV / NAA_ENERGY_EV[0]) ** -1.5
        counts = self.rng.poisson(mean).astype(np.float32)
        if self.rng.random() < self.fault_rate:
            counts[self.rng.integers(0, NAA_BINS)] = -1.0      # detector readout fault
        return counts


def validate_lpr(values: np.ndarray) -> tuple[bool, str]:
    """Return (valid, reason) for one radar trace."""
    if values.shape != (LPR_SAMPLES,):
        return False, f'{values.size} samples, expected {LPR_SAMPLES}'
    bad = int(np.count_nonzero(~np.isfinite(values)))
    if bad:
        return False, f'{bad} samples not finite'
    clipped = float(np.mean(np.abs(values) >= LPR_FULL_SCALE))
    if clipped > LPR_MAX_CLIPPED:
        return False, f'{clipped:.1%} of samples saturated'
    return True, ''


def validate_naa(values: np.ndarray) -> tuple[bool, str]:
    """Return (valid, reason) for one neutral-atom spectrum."""
    if values.shape != (NAA_BINS,):
        return False, f'{values.size} bins, expected {NAA_BINS}'
    if not np.all(np.isfinite(values)):
        return False, 'counts not finite'
    if np.any(values < 0) or np.any(values != np.round(values)):
        return False, 'counts must be non-negative integers'
    if np.any(values > NAA_MAX_COUNTS):
        return False, 'detector saturated'
    return True, ''


VALIDATORS = {'lpr': validate_lpr, 'naa': validate_naa}
