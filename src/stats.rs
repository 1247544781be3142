//! Statistics over a series of timings (latency mode): summary, percentiles, text histogram.
//! Pure functions, no I/O.

use crate::report::TimingSummary;

/// Summarises `samples` (milliseconds). `None` when there are none.
pub fn summarize(samples: &[f64]) -> Option<TimingSummary> {
    let mut sorted: Vec<f64> = samples.iter().copied().filter(|s| s.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    let avg = sorted.iter().sum::<f64>() / n;
    let variance = sorted.iter().map(|s| (s - avg).powi(2)).sum::<f64>() / n;
    Some(TimingSummary {
        min_ms: sorted[0],
        avg_ms: avg,
        max_ms: sorted[sorted.len() - 1],
        stddev_ms: variance.sqrt(),
        p50_ms: percentile(&sorted, 50.0),
        p95_ms: percentile(&sorted, 95.0),
        p99_ms: percentile(&sorted, 99.0),
    })
}

/// Nearest-rank percentile of an ascending, non-empty slice: the smallest sample such that at
/// least `p` percent of the samples are less than or equal to it. Every value reported is one
/// that was actually measured.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// One bucket of a histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    /// Lower bound (inclusive), ms.
    pub from_ms: f64,
    /// Upper bound (exclusive, inclusive for the last bucket), ms.
    pub to_ms: f64,
    /// Samples in it.
    pub count: usize,
}

/// Splits the samples' range into `buckets` equal-width buckets.
pub fn histogram(samples: &[f64], buckets: usize) -> Vec<Bucket> {
    let finite: Vec<f64> = samples.iter().copied().filter(|s| s.is_finite()).collect();
    if finite.is_empty() || buckets == 0 {
        return Vec::new();
    }
    let min = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let width = if max > min {
        (max - min) / buckets as f64
    } else {
        1.0
    };
    let mut out: Vec<Bucket> = (0..buckets)
        .map(|i| Bucket {
            from_ms: min + width * i as f64,
            to_ms: min + width * (i + 1) as f64,
            count: 0,
        })
        .collect();
    for s in finite {
        let index = (((s - min) / width) as usize).min(buckets - 1);
        out[index].count += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_known_values() {
        let s = summarize(&[4.0, 2.0, 1.0, 3.0]).unwrap();
        assert_eq!((s.min_ms, s.max_ms, s.avg_ms), (1.0, 4.0, 2.5));
        assert!((s.stddev_ms - 1.118_033_988).abs() < 1e-6);
        assert_eq!(s.p50_ms, 2.0);
        assert_eq!(s.p95_ms, 4.0);
        assert_eq!(s.p99_ms, 4.0);
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 95.0), 95.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        assert_eq!(percentile(&v, 0.0), 1.0);
    }

    #[test]
    fn empty_and_non_finite_samples() {
        assert!(summarize(&[]).is_none());
        assert!(summarize(&[f64::NAN]).is_none());
        assert_eq!(summarize(&[f64::NAN, 5.0]).unwrap().avg_ms, 5.0);
        assert!(histogram(&[], 5).is_empty());
    }

    #[test]
    fn histogram_counts_every_sample_once() {
        let h = histogram(&[1.0, 1.5, 2.0, 9.0, 10.0], 3);
        assert_eq!(h.len(), 3);
        assert_eq!(h.iter().map(|b| b.count).sum::<usize>(), 5);
        assert_eq!(h[0].count, 3);
        assert_eq!(h[2].count, 2);
        let same = histogram(&[2.0, 2.0], 4);
        assert_eq!(same[0].count, 2);
    }
}
