//! Statistics and interleaving: samples, medians, ratios, interleaved iterations.

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::Opts;

/// Wall times of one arm, in milliseconds.
#[derive(Debug, Clone, Default)]
pub(crate) struct Samples(pub(crate) Vec<f64>);

impl Samples {
    pub(crate) fn quantile(&self, q: f64) -> f64 {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        if v.is_empty() {
            return f64::NAN;
        }
        let pos = q * (v.len() - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
    }

    pub(crate) fn median(&self) -> f64 {
        self.quantile(0.5)
    }

    /// `median (p25–p75)`.
    pub(crate) fn show(&self) -> String {
        format!(
            "{} ({}–{})",
            ms(self.median()),
            ms(self.quantile(0.25)),
            ms(self.quantile(0.75))
        )
    }
}

pub(crate) fn ms(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0} ms")
    } else if v.abs() >= 10.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.2} ms")
    }
}

/// An arm of a comparison: a closure that does the work once and returns its wall time.
pub(crate) type Arm<'a> = Box<dyn FnMut() -> Result<Duration> + 'a>;

/// Times a closure.
pub(crate) fn timed(f: impl FnOnce() -> Result<()>) -> Result<Duration> {
    let start = Instant::now();
    f()?;
    Ok(start.elapsed())
}

/// Runs the arms interleaved (order rotating each iteration) after warm-up, and returns the
/// samples of each arm.
pub(crate) fn interleave(opts: Opts, arms: &mut [Arm<'_>]) -> Result<Vec<Samples>> {
    let n = arms.len();
    let mut out = vec![Samples::default(); n];
    for it in 0..opts.warmup + opts.iters {
        for k in 0..n {
            let a = (it + k) % n;
            let d = arms[a]()?;
            if it >= opts.warmup {
                out[a].0.push(d.as_secs_f64() * 1000.0);
            }
        }
    }
    Ok(out)
}

/// Ratio of medians, and the p25–p75 of the per-iteration ratios.
pub(crate) fn ratio(num: &Samples, den: &Samples) -> (f64, f64, f64) {
    let per: Vec<f64> = num.0.iter().zip(&den.0).map(|(a, b)| a / b).collect();
    let per = Samples(per);
    (
        num.median() / den.median(),
        per.quantile(0.25),
        per.quantile(0.75),
    )
}

pub(crate) fn show_ratio(r: (f64, f64, f64)) -> String {
    format!("{:.3} ({:.3}–{:.3})", r.0, r.1, r.2)
}
