//! Signal processing for the seismic cross-correlation workflow (`examples/xcorr.rs`),
//! written for this project on top of `rustfft`:
//!
//! * pre-processing steps, each in place on a trace: [`demean`] (also fills gaps),
//!   [`detrend`], [`taper`], [`bandpass`], [`decimate`], [`whiten`], [`onebit`];
//! * zero-phase Butterworth filters as cascades of biquads ([`butterworth`], [`filtfilt`]),
//!   designed by the bilinear transform with pre-warping (the same filters as
//!   `scipy.signal.butter(..., output="sos")`);
//! * [`RealFft`]: the FFT of a real sequence of even length `n` through one complex FFT of
//!   length `n/2`, forward and inverse;
//! * [`fast_len`]: the next length with small prime factors;
//! * [`cross_correlate`]: the normalised cross-correlation of two spectra for lags in
//!   `-max_lag..=max_lag`, and [`pick_peak`] with parabolic interpolation.
//!
//! Spectra are stored as interleaved `f64` (`re0, im0, re1, im1, ...`, `n/2 + 1` bins), so
//! that they travel as a dense [`dispel4rs::Value::Array`].

// Each including file uses only some of these functions.
#![allow(dead_code)]

use rustfft::num_complex::Complex64;
use rustfft::{Fft, FftPlanner};
use std::cell::RefCell;
use std::f64::consts::PI;
use std::sync::Arc;

thread_local! {
    // One planner per thread: plans are cached, so each length is planned once per thread.
    static PLANNER: RefCell<FftPlanner<f64>> = RefCell::new(FftPlanner::new());
}

fn plan(n: usize, inverse: bool) -> Arc<dyn Fft<f64>> {
    PLANNER.with(|p| {
        let mut p = p.borrow_mut();
        if inverse {
            p.plan_fft_inverse(n)
        } else {
            p.plan_fft_forward(n)
        }
    })
}

/// The smallest even length `>= target` whose prime factors are 2, 3 and 5 (fast for FFTs).
pub fn fast_len(target: usize) -> usize {
    let target = target.max(2);
    let mut best = usize::MAX;
    let mut p5 = 1usize;
    while p5 < best {
        let mut p35 = p5;
        while p35 < best {
            // The smallest power-of-two multiple (at least ×2) reaching the target.
            let mut n = p35 * 2;
            while n < target {
                n *= 2;
            }
            best = best.min(n);
            p35 *= 3;
        }
        p5 *= 5;
    }
    best
}

/// The FFT of real sequences of one even length `n`, through a complex FFT of `n/2`.
pub struct RealFft {
    n: usize,
    forward: Arc<dyn Fft<f64>>,
    inverse: Arc<dyn Fft<f64>>,
    /// `exp(-2πi k/n)` for `k = 0..=n/2`.
    twiddles: Vec<Complex64>,
    buf: Vec<Complex64>,
    scratch: Vec<Complex64>,
}

impl RealFft {
    /// Plans the transforms of length `n` (even, at least 2).
    pub fn new(n: usize) -> Result<Self, String> {
        if n < 2 || n % 2 != 0 {
            return Err(format!("a real FFT needs an even length of at least 2, not {n}"));
        }
        let m = n / 2;
        let forward = plan(m, false);
        let inverse = plan(m, true);
        let twiddles = (0..=m).map(|k| Complex64::from_polar(1.0, -2.0 * PI * k as f64 / n as f64)).collect();
        let scratch_len = forward.get_inplace_scratch_len().max(inverse.get_inplace_scratch_len());
        Ok(RealFft {
            n,
            forward,
            inverse,
            twiddles,
            buf: vec![Complex64::default(); m],
            scratch: vec![Complex64::default(); scratch_len],
        })
    }

    /// The transform length.
    pub fn len(&self) -> usize {
        self.n
    }

    /// The number of frequency bins, `n/2 + 1`.
    pub fn bins(&self) -> usize {
        self.n / 2 + 1
    }

    /// `X[k] = Σ x[t]·exp(-2πi kt/n)` for `k = 0..=n/2`, of `x` zero-padded to `n`
    /// (`x.len() <= n`), into `out` (`n/2 + 1` bins).
    pub fn forward(&mut self, x: &[f64], out: &mut [Complex64]) {
        let m = self.n / 2;
        debug_assert!(x.len() <= self.n && out.len() == m + 1);
        let at = |i: usize| x.get(i).copied().unwrap_or(0.0);
        for (k, z) in self.buf.iter_mut().enumerate() {
            *z = Complex64::new(at(2 * k), at(2 * k + 1));
        }
        self.forward.process_with_scratch(&mut self.buf, &mut self.scratch);
        // Z = E + iO, with E and O the transforms of the even and odd samples.
        for (k, (bin, twiddle)) in out.iter_mut().zip(&self.twiddles).enumerate() {
            let z = self.buf[k % m];
            let zc = self.buf[(m - k) % m].conj();
            let even = (z + zc) * 0.5;
            let odd = (z - zc) * Complex64::new(0.0, -0.5);
            *bin = even + twiddle * odd;
        }
    }

    /// The inverse of [`RealFft::forward`]: `x[t] = (1/n) Σ X[k]·exp(2πi kt/n)` over the
    /// full Hermitian spectrum given by its `n/2 + 1` bins, into `out` (`n` samples).
    pub fn inverse(&mut self, spectrum: &[Complex64], out: &mut [f64]) {
        let m = self.n / 2;
        debug_assert!(spectrum.len() == m + 1 && out.len() == self.n);
        for k in 0..m {
            let x = spectrum[k];
            let xc = spectrum[m - k].conj();
            let even = (x + xc) * 0.5;
            let odd = (x - xc) * self.twiddles[k].conj() * 0.5;
            self.buf[k] = even + Complex64::new(0.0, 1.0) * odd;
        }
        self.inverse.process_with_scratch(&mut self.buf, &mut self.scratch);
        let scale = 1.0 / m as f64;
        for (k, z) in self.buf.iter().enumerate() {
            out[2 * k] = z.re * scale;
            out[2 * k + 1] = z.im * scale;
        }
    }
}

/// Subtracts the mean of the finite samples; samples that are not finite (gaps, marked NaN
/// by the reader) become 0, i.e. the mean. Returns how many samples were filled.
pub fn demean(x: &mut [f64]) -> usize {
    let (mut sum, mut count) = (0.0, 0usize);
    for v in x.iter().filter(|v| v.is_finite()) {
        sum += v;
        count += 1;
    }
    let mean = if count > 0 { sum / count as f64 } else { 0.0 };
    let mut filled = 0;
    for v in x.iter_mut() {
        if v.is_finite() {
            *v -= mean;
        } else {
            *v = 0.0;
            filled += 1;
        }
    }
    filled
}

/// Removes the least-squares straight line.
pub fn detrend(x: &mut [f64]) {
    let n = x.len();
    if n < 2 {
        return;
    }
    let tm = (n - 1) as f64 / 2.0;
    let xm = x.iter().sum::<f64>() / n as f64;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, v) in x.iter().enumerate() {
        let t = i as f64 - tm;
        sxy += t * (v - xm);
        sxx += t * t;
    }
    let slope = sxy / sxx;
    for (i, v) in x.iter_mut().enumerate() {
        *v -= xm + slope * (i as f64 - tm);
    }
}

/// A Hann taper over `fraction` of the samples at each end (ObsPy's
/// `taper(max_percentage=fraction, type="hann")`).
pub fn taper(x: &mut [f64], fraction: f64) {
    let n = x.len();
    let len = ((n as f64) * fraction.clamp(0.0, 0.5)) as usize;
    for i in 0..len {
        let w = 0.5 * (1.0 - (PI * i as f64 / len as f64).cos());
        x[i] *= w;
        x[n - 1 - i] *= w;
    }
}

/// A second-order IIR section, normalised so that `a0 = 1`.
#[derive(Clone, Copy, Debug)]
pub struct Biquad {
    b0: f64,
    b1: f64,
    b2: f64,
    a1: f64,
    a2: f64,
}

/// Low- or high-pass.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pass {
    /// Passes frequencies below the corner.
    Low,
    /// Passes frequencies above the corner.
    High,
}

impl Biquad {
    /// The bilinear transform (pre-warped at `corner`) of the analog second-order section
    /// `1/(s² + s/q + 1)` (low-pass) or `s²/(s² + s/q + 1)` (high-pass).
    pub fn new(pass: Pass, corner: f64, rate: f64, q: f64) -> Self {
        let w0 = 2.0 * PI * corner / rate;
        let (sin, cos) = w0.sin_cos();
        let alpha = sin / (2.0 * q);
        let a0 = 1.0 + alpha;
        let (b0, b1) = match pass {
            Pass::Low => ((1.0 - cos) / 2.0, 1.0 - cos),
            Pass::High => ((1.0 + cos) / 2.0, -(1.0 + cos)),
        };
        Biquad { b0: b0 / a0, b1: b1 / a0, b2: b0 / a0, a1: -2.0 * cos / a0, a2: (1.0 - alpha) / a0 }
    }

    /// Filters `x` in place, from a zero state (transposed direct form II).
    fn run(&self, x: &mut [f64]) {
        let (mut z1, mut z2) = (0.0, 0.0);
        for v in x.iter_mut() {
            let input = *v;
            let y = self.b0 * input + z1;
            z1 = self.b1 * input - self.a1 * y + z2;
            z2 = self.b2 * input - self.a2 * y;
            *v = y;
        }
    }
}

/// A Butterworth filter of even `order` as `order/2` biquads.
pub fn butterworth(pass: Pass, order: usize, corner: f64, rate: f64) -> Vec<Biquad> {
    let sections = (order / 2).max(1);
    (1..=sections)
        .map(|k| {
            let q = 1.0 / (2.0 * (PI * (2 * k - 1) as f64 / (4 * sections) as f64).cos());
            Biquad::new(pass, corner, rate, q)
        })
        .collect()
}

/// Zero-phase filtering: the cascade forward, then backward.
pub fn filtfilt(sections: &[Biquad], x: &mut [f64]) {
    for s in sections {
        s.run(x);
    }
    x.reverse();
    for s in sections {
        s.run(x);
    }
    x.reverse();
}

/// Zero-phase band-pass: a 4-pole Butterworth high-pass at `freqmin` and a 4-pole
/// Butterworth low-pass at `freqmax`.
pub fn bandpass(x: &mut [f64], rate: f64, freqmin: f64, freqmax: f64) -> Result<(), String> {
    if !(freqmin > 0.0 && freqmin < freqmax && freqmax < rate / 2.0) {
        return Err(format!(
            "needs 0 < freqmin < freqmax < rate/2, got freqmin {freqmin} Hz, freqmax {freqmax} Hz at {rate} Hz"
        ));
    }
    let mut sections = butterworth(Pass::High, 4, freqmin, rate);
    sections.extend(butterworth(Pass::Low, 4, freqmax, rate));
    filtfilt(&sections, x);
    Ok(())
}

/// Decimates `x` (sampled at `rate`) to `target` Hz: a zero-phase 4-pole Butterworth
/// low-pass at 0.4·`target` against aliasing, then every `rate/target`-th sample. The ratio
/// must be a whole number. Returns the new rate.
pub fn decimate(x: &mut Vec<f64>, rate: f64, target: f64) -> Result<f64, String> {
    let ratio = rate / target;
    let factor = ratio.round();
    if !(target > 0.0 && factor >= 1.0 && (ratio - factor).abs() < 1e-6) {
        return Err(format!("needs a whole ratio between {rate} Hz and the target {target} Hz"));
    }
    let factor = factor as usize;
    if factor == 1 {
        return Ok(rate);
    }
    filtfilt(&butterworth(Pass::Low, 4, 0.4 * target, rate), x);
    let kept = x.len().div_ceil(factor);
    for i in 0..kept {
        x[i] = x[i * factor];
    }
    x.truncate(kept);
    Ok(rate / factor as f64)
}

/// The cosine-tapered pass band of [`whiten`]: 1 in `[freqmin, freqmax]`, half-cosine ramps
/// of width `ramp` outside it, 0 beyond.
pub fn band_weight(f: f64, freqmin: f64, freqmax: f64, ramp: f64) -> f64 {
    if f >= freqmin && f <= freqmax {
        1.0
    } else if f < freqmin && f > freqmin - ramp {
        0.5 * (1.0 - (PI * (f - (freqmin - ramp)) / ramp).cos())
    } else if f > freqmax && f < freqmax + ramp {
        0.5 * (1.0 + (PI * (f - freqmax) / ramp).cos())
    } else {
        0.0
    }
}

/// Spectral whitening: the amplitude spectrum set to [`band_weight`] (ramps of a tenth of
/// the band), the phase kept.
pub fn whiten(x: &mut [f64], rate: f64, freqmin: f64, freqmax: f64) -> Result<(), String> {
    if x.is_empty() {
        return Ok(());
    }
    let n = fast_len(x.len());
    let mut fft = RealFft::new(n)?;
    let mut spec = vec![Complex64::default(); fft.bins()];
    fft.forward(x, &mut spec);
    let ramp = 0.1 * (freqmax - freqmin);
    for (k, c) in spec.iter_mut().enumerate() {
        let f = k as f64 * rate / n as f64;
        let amp = c.norm();
        let w = band_weight(f, freqmin, freqmax, ramp);
        *c = if amp > 0.0 && w > 0.0 { *c * (w / amp) } else { Complex64::default() };
    }
    let mut out = vec![0.0; n];
    fft.inverse(&spec, &mut out);
    x.copy_from_slice(&out[..x.len()]);
    Ok(())
}

/// One-bit normalisation: every sample replaced by its sign (0 stays 0).
pub fn onebit(x: &mut [f64]) {
    for v in x.iter_mut() {
        *v = if *v > 0.0 {
            1.0
        } else if *v < 0.0 {
            -1.0
        } else {
            0.0
        };
    }
}

/// The spectrum of `x` zero-padded to `n` (even), as interleaved `f64` (`n + 2` values).
pub fn spectrum(x: &[f64], n: usize) -> Result<Vec<f64>, String> {
    if x.len() > n {
        return Err(format!("a trace of {} samples does not fit a transform of {n}", x.len()));
    }
    let mut fft = RealFft::new(n)?;
    let mut spec = vec![Complex64::default(); fft.bins()];
    fft.forward(x, &mut spec);
    Ok(spec.iter().flat_map(|c| [c.re, c.im]).collect())
}

/// Reusable buffers for [`cross_correlate`] (one per PE instance).
#[derive(Default)]
pub struct Correlator {
    fft: Option<RealFft>,
    product: Vec<Complex64>,
    lags: Vec<f64>,
}

impl Correlator {
    /// `c[τ] = Σ a[t]·b[t+τ] / scale` for `τ = -max_lag..=max_lag` (`2·max_lag + 1` values,
    /// lag `-max_lag` first), from the interleaved spectra `a` and `b` of one transform length
    /// `n` (`n + 2` values each). Positive lags: `b` is `a` delayed.
    pub fn cross_correlate(
        &mut self,
        a: &[f64],
        b: &[f64],
        max_lag: usize,
        scale: f64,
    ) -> Result<Vec<f64>, String> {
        if a.len() != b.len() || a.len() < 4 || a.len() % 2 != 0 {
            return Err(format!("spectra of {} and {} values do not match", a.len(), b.len()));
        }
        let n = a.len() - 2;
        if 2 * max_lag + 1 > n {
            return Err(format!("a maximum lag of {max_lag} samples needs a transform longer than {n}"));
        }
        let mut fft = match self.fft.take() {
            Some(fft) if fft.len() == n => fft,
            _ => {
                self.lags = vec![0.0; n];
                RealFft::new(n)?
            }
        };
        let bins = n / 2 + 1;
        self.product.clear();
        self.product.extend((0..bins).map(|k| {
            let (ar, ai, br, bi) = (a[2 * k], a[2 * k + 1], b[2 * k], b[2 * k + 1]);
            // conj(A)·B
            Complex64::new(ar * br + ai * bi, ar * bi - ai * br)
        }));
        fft.inverse(&self.product, &mut self.lags);
        self.fft = Some(fft);
        let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
        let mut out = Vec::with_capacity(2 * max_lag + 1);
        out.extend(self.lags[n - max_lag..].iter().map(|v| v * inv));
        out.extend(self.lags[..=max_lag].iter().map(|v| v * inv));
        Ok(out)
    }
}

/// The position of the largest value of `y`, refined by a parabola through it and its two
/// neighbours (`(position, height)`), or `None` for an empty or non-finite `y`.
pub fn pick_peak(y: &[f64]) -> Option<(f64, f64)> {
    let (k, &top) = y.iter().enumerate().filter(|(_, v)| v.is_finite()).max_by(|a, b| a.1.total_cmp(b.1))?;
    if k == 0 || k + 1 == y.len() {
        return Some((k as f64, top));
    }
    let (l, r) = (y[k - 1], y[k + 1]);
    let denom = l - 2.0 * top + r;
    if denom >= 0.0 || !denom.is_finite() {
        return Some((k as f64, top));
    }
    let delta = 0.5 * (l - r) / denom;
    Some((k as f64 + delta, top - 0.25 * (l - r) * delta))
}
