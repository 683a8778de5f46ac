//! Samples of wall-clock time and the few statistics the reports need: the
//! median (robust to the odd slow run on a shared machine), the spread, and
//! the ratio of two medians.

use std::time::Duration;

/// Wall-clock times of repeated runs of one thing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Samples(Vec<Duration>);

impl Samples {
    /// No samples yet.
    pub fn new() -> Self {
        Samples(Vec::new())
    }

    /// Adds one run's time.
    pub fn push(&mut self, time: Duration) {
        self.0.push(time);
    }

    /// How many runs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The times, in the order they were taken.
    pub fn times(&self) -> &[Duration] {
        &self.0
    }

    /// The median run; zero when there are none.
    pub fn median(&self) -> Duration {
        median(&self.0).unwrap_or_default()
    }

    /// The fastest and the slowest run.
    pub fn range(&self) -> (Duration, Duration) {
        let min = self.0.iter().min().copied().unwrap_or_default();
        let max = self.0.iter().max().copied().unwrap_or_default();
        (min, max)
    }
}

/// The median of `times`: the middle one, or the mean of the two middle ones.
pub fn median(times: &[Duration]) -> Option<Duration> {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    let mid = sorted.len() / 2;
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => Some(sorted[mid]),
        _ => Some((sorted[mid - 1] + sorted[mid]) / 2),
    }
}

/// `subject / baseline`, as a float; infinite when the baseline took no time.
pub fn ratio(subject: Duration, baseline: Duration) -> f64 {
    if baseline.is_zero() {
        return f64::INFINITY;
    }
    subject.as_secs_f64() / baseline.as_secs_f64()
}

/// The median of the ratios `subject[i] / baseline[i]` of runs timed in the
/// same round: steadier than the ratio of medians when the machine's speed
/// drifts between rounds. `None` without pairs.
pub fn median_paired_ratio(subject: &Samples, baseline: &Samples) -> Option<f64> {
    let mut ratios: Vec<f64> = subject
        .times()
        .iter()
        .zip(baseline.times())
        .map(|(&s, &b)| ratio(s, b))
        .collect();
    ratios.sort_by(f64::total_cmp);
    let mid = ratios.len() / 2;
    match ratios.len() {
        0 => None,
        n if n % 2 == 1 => Some(ratios[mid]),
        _ => Some((ratios[mid - 1] + ratios[mid]) / 2.0),
    }
}

/// A count for people: `10,000`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A duration for people: `4.21 s`, `62.3 ms`, `0.41 ms`.
pub fn format_duration(time: Duration) -> String {
    let ms = time.as_secs_f64() * 1000.0;
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|&v| Duration::from_millis(v)).collect()
    }

    #[test]
    fn median_of_odd_even_and_empty_lists() {
        // Expected medians in microseconds: an even count takes the mean of the middle two.
        let table: &[(&[u64], Option<u64>)] = &[
            (&[], None),
            (&[7], Some(7_000)),
            (&[9, 1, 5], Some(5_000)),
            (&[4, 1, 3, 2], Some(2_500)),
            (&[10, 10, 1000, 10, 10], Some(10_000)),
        ];
        for (values, expected) in table {
            let expected = expected.map(Duration::from_micros);
            assert_eq!(median(&ms(values)), expected, "{values:?}");
        }
    }

    #[test]
    fn samples_report_median_and_range() {
        let mut samples = Samples::new();
        for time in ms(&[30, 10, 20]) {
            samples.push(time);
        }
        assert_eq!(samples.len(), 3);
        assert_eq!(samples.median(), Duration::from_millis(20));
        assert_eq!(
            samples.range(),
            (Duration::from_millis(10), Duration::from_millis(30))
        );
        assert_eq!(Samples::new().median(), Duration::ZERO);
    }

    #[test]
    fn ratio_divides_medians() {
        let r = ratio(Duration::from_millis(110), Duration::from_millis(100));
        assert!((r - 1.1).abs() < 1e-9, "{r}");
        assert!(ratio(Duration::from_millis(1), Duration::ZERO).is_infinite());
    }

    #[test]
    fn paired_ratios_follow_the_rounds() {
        let samples = |values: &[u64]| {
            let mut samples = Samples::new();
            for time in ms(values) {
                samples.push(time);
            }
            samples
        };
        // The machine slows down fivefold after the first round; each round's ratio is 1.2.
        let subject = samples(&[120, 600, 600]);
        let baseline = samples(&[100, 500, 500]);
        let r = median_paired_ratio(&subject, &baseline).expect("pairs");
        assert!((r - 1.2).abs() < 1e-9, "{r}");
        let even = median_paired_ratio(&samples(&[110, 130]), &samples(&[100, 100]));
        assert!(even.is_some_and(|r| (r - 1.2).abs() < 1e-9), "{even:?}");
        assert_eq!(median_paired_ratio(&Samples::new(), &baseline), None);
    }

    #[test]
    fn counts_read_well() {
        for (n, text) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (1_234_567, "1,234,567"),
        ] {
            assert_eq!(thousands(n), text);
        }
    }

    #[test]
    fn durations_read_well() {
        for (time, text) in [
            (Duration::from_millis(4213), "4.21 s"),
            (Duration::from_micros(62_340), "62.3 ms"),
            (Duration::from_micros(410), "0.41 ms"),
        ] {
            assert_eq!(format_duration(time), text);
        }
    }
}
