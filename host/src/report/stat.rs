//! Mean ± standard error of a statistic over a group's runs.

use std::fmt::Write as _;

/// Mean and standard error of the values a statistic has over a group's runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    /// The mean.
    pub mean: f64,
    /// The standard error of the mean, s/√n with s the sample standard deviation (n − 1);
    /// `None` for a single value.
    pub standard_error: Option<f64>,
    /// How many runs had the value.
    pub n: usize,
}

impl Stat {
    /// The statistic of `values`; `None` if empty.
    pub fn of(values: &[f64]) -> Option<Stat> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let standard_error = (n > 1).then(|| {
            let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64;
            (var / n as f64).sqrt()
        });
        Some(Stat { mean, standard_error, n })
    }

    /// `mean ± s.e.` with `decimals` decimals, `mean` alone for one value, and ` (k/n)` after
    /// it if only k of the group's n runs had the value.
    pub fn format(&self, decimals: usize, runs: usize) -> String {
        let mut s = match self.standard_error {
            Some(se) => format!("{:.d$} ± {:.d$}", self.mean, se, d = decimals),
            None => format!("{:.d$}", self.mean, d = decimals),
        };
        if self.n < runs {
            let _ = write!(s, " ({}/{})", self.n, runs);
        }
        s
    }
}
