#!/usr/bin/env python3
"""The reference for `benches/science.rs`: the `xcorr` workflow as a seismologist would
write it with ObsPy, NumPy and SciPy, doing the same steps as examples/xcorr.rs:

read every miniSEED file of DIR (ObsPy) onto one common time grid (gaps NaN), then per
trace: demean (gaps filled with the mean), linear detrend, 5 % Hann taper, zero-phase
4-pole Butterworth band-pass (high-pass freqmin, low-pass freqmax; scipy.signal.butter
sections, filtered forward and back from a zero state), decimation to target_rate (zero-
phase 4-pole low-pass at 0.4 x target_rate, every k-th sample), spectral whitening in the
band (cosine ramps of a tenth of the band), one-bit normalisation, and the real FFT zero-
padded to n >= samples + max lag; then for every station pair the normalised cross-
correlation by one inverse FFT of conj(A)*B, the lag of the peak refined by a parabola.

    python3 benches/xcorr_numpy.py DIR OUT.jsonl

Writes one JSON line per pair, [sta_a, sta_b, lag_s, peak], and prints to stdout one JSON
object: {"pairs": P, "seconds": S} where S is the time from reading the first file to the
last pick (imports and interpreter start-up excluded).
"""

import glob
import json
import math
import os
import sys
import time

import numpy as np
from obspy import read
from scipy import signal

FREQMIN, FREQMAX, TARGET_RATE, MAX_LAG_S, TAPER = 0.1, 1.5, 5.0, 30.0, 0.05


def fast_len(target):
    """The smallest even 2^a 3^b 5^c >= target (as dsp::fast_len)."""
    target = max(target, 2)
    best = None
    p5 = 1
    while best is None or p5 < best:
        p35 = p5
        while best is None or p35 < best:
            n = p35 * 2
            while n < target:
                n *= 2
            best = n if best is None else min(best, n)
            p35 *= 3
        p5 *= 5
    return best


def zero_phase(sos, x):
    y = signal.sosfilt(sos, x)
    return signal.sosfilt(sos, y[::-1])[::-1]


def band_weight(f, fmin, fmax, ramp):
    w = np.zeros_like(f)
    w[(f >= fmin) & (f <= fmax)] = 1.0
    lo = (f < fmin) & (f > fmin - ramp)
    w[lo] = 0.5 * (1.0 - np.cos(np.pi * (f[lo] - (fmin - ramp)) / ramp))
    hi = (f > fmax) & (f < fmax + ramp)
    w[hi] = 0.5 * (1.0 + np.cos(np.pi * (f[hi] - fmax) / ramp))
    return w


def preprocess(x, rate):
    finite = np.isfinite(x)
    x = np.where(finite, x - x[finite].mean(), 0.0)
    x = signal.detrend(x, type="linear")
    n = len(x)
    m = int(n * TAPER)
    if m > 0:
        w = 0.5 * (1.0 - np.cos(np.pi * np.arange(m) / m))
        x[:m] *= w
        x[n - m :] *= w[::-1]
    sos = np.vstack(
        [
            signal.butter(4, FREQMIN, "highpass", fs=rate, output="sos"),
            signal.butter(4, FREQMAX, "lowpass", fs=rate, output="sos"),
        ]
    )
    x = zero_phase(sos, x)
    factor = int(round(rate / TARGET_RATE))
    if factor > 1:
        x = zero_phase(signal.butter(4, 0.4 * TARGET_RATE, "lowpass", fs=rate, output="sos"), x)[::factor]
        rate = rate / factor
    nw = fast_len(len(x))
    spec = np.fft.rfft(x, nw)
    w = band_weight(np.fft.rfftfreq(nw, 1.0 / rate), FREQMIN, FREQMAX, 0.1 * (FREQMAX - FREQMIN))
    amp = np.abs(spec)
    keep = (amp > 0) & (w > 0)
    spec = np.where(keep, spec * w / np.where(amp > 0, amp, 1.0), 0.0)
    x = np.fft.irfft(spec, nw)[: len(x)]
    x = np.sign(x)
    return x, rate


def main():
    directory, out_path = sys.argv[1], sys.argv[2]
    files = sorted(
        f for f in glob.glob(os.path.join(directory, "*")) if f.lower().endswith((".mseed", ".miniseed", ".ms"))
    )
    start = time.perf_counter()
    st = read(files[0])
    for f in files[1:]:
        st += read(f)
    rate = st[0].stats.sampling_rate
    t0 = min(tr.stats.starttime for tr in st)
    t1 = max(tr.stats.endtime + tr.stats.delta for tr in st)
    length = int(round((t1 - t0) * rate))
    grids = {}
    for tr in st:
        grid = grids.setdefault(tr.stats.station, np.full(length, np.nan))
        first = int(round((tr.stats.starttime - t0) * rate))
        grid[first : first + tr.stats.npts] = tr.data[: max(0, length - first)]

    stations = sorted(grids)
    spectra, norms = [], []
    lag_n, n, out_rate = None, None, None
    for s in stations:
        x, out_rate = preprocess(grids[s], rate)
        lag_n = int(math.ceil(MAX_LAG_S * out_rate))
        n = fast_len(len(x) + lag_n + 1)
        spectra.append(np.fft.rfft(x, n))
        norms.append(math.sqrt(float(np.dot(x, x))))

    rows = []
    for i in range(len(stations)):
        a = np.conj(spectra[i])
        for j in range(i + 1, len(stations)):
            c = np.fft.irfft(a * spectra[j], n)
            ccf = np.concatenate((c[n - lag_n :], c[: lag_n + 1])) / (norms[i] * norms[j])
            k = int(np.argmax(ccf))
            at, peak = float(k), float(ccf[k])
            if 0 < k < len(ccf) - 1:
                left, right = ccf[k - 1], ccf[k + 1]
                denom = left - 2.0 * ccf[k] + right
                if denom < 0:
                    delta = 0.5 * (left - right) / denom
                    at, peak = k + delta, float(ccf[k] - 0.25 * (left - right) * delta)
            rows.append([stations[i], stations[j], round(-lag_n / out_rate + at / out_rate, 4), round(peak, 4)])
    elapsed = time.perf_counter() - start
    with open(out_path, "w") as out:
        for r in rows:
            out.write(json.dumps(r) + "\n")
    print(json.dumps({"pairs": len(rows), "seconds": elapsed}))


if __name__ == "__main__":
    main()
