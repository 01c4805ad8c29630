//! Order statistics of the measurements: min, median, mean, p90, max and quantiles.

#[derive(Default, Clone, Copy)]
pub(crate) struct FloatStats {
    pub(crate) min: f64,
    pub(crate) median: f64,
    pub(crate) mean: f64,
    pub(crate) p90: f64,
    pub(crate) max: f64,
}

impl FloatStats {
    pub(crate) fn of(values: &[f64]) -> FloatStats {
        if values.is_empty() {
            return FloatStats::default();
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let rank = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        FloatStats {
            min: v[0],
            median: median(&v),
            mean: v.iter().sum::<f64>() / v.len() as f64,
            p90: rank(0.9),
            max: v[v.len() - 1],
        }
    }
}

/// The median of sorted values (mean of the middle two for an even count).
fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        sorted[n / 2]
    } else {
        f64::midpoint(sorted[n / 2 - 1], sorted[n / 2])
    }
}

/// The nearest-rank `q` quantile of `values`.
pub(crate) fn quantile(values: &[u64], q: f64) -> u64 {
    if values.is_empty() {
        return 0;
    }
    let mut v = values.to_vec();
    v.sort_unstable();
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}
