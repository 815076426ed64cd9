//! Reading back the recorder: the Prometheus text it renders, parsed into samples.
//!
//! `/stats` and the status page read counters from the same text Prometheus scrapes, so the
//! three views can never disagree. Public on purpose: anything that reads a relay's `/metrics`
//! from outside (the devnet report, load generators) uses the same parser.

use std::collections::BTreeMap;

/// One sample line: `name{label="value",…} value`.
#[derive(Clone, Debug, PartialEq)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

impl Sample {
    fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn matches(&self, name: &str, filter: &[(&str, &str)]) -> bool {
        self.name == name && filter.iter().all(|(k, v)| self.label(k) == Some(v))
    }
}

/// Every sample of one rendering of the recorder.
#[derive(Clone, Debug, Default)]
pub struct Scrape {
    samples: Vec<Sample>,
}

/// Cumulative histogram buckets `(le, count)`, ascending, `+Inf` last.
pub type Buckets = Vec<(f64, f64)>;

impl Scrape {
    /// Parses Prometheus text; lines that are not well-formed samples are skipped.
    pub fn parse(text: &str) -> Scrape {
        let samples = text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(parse_line)
            .collect();
        Scrape { samples }
    }

    /// Keeps only the samples named in `names`.
    pub fn retain(mut self, names: &[&str]) -> Scrape {
        self.samples.retain(|s| names.contains(&s.name.as_str()));
        self
    }

    /// The sum of every series of `name` whose labels include `filter`.
    pub fn sum(&self, name: &str, filter: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|s| s.matches(name, filter))
            .map(|s| s.value)
            .fold(0.0, |total, v| total + v)
    }

    /// Sums of `name` grouped by the value of `label` (series without it are left out).
    pub fn by(&self, name: &str, label: &str, filter: &[(&str, &str)]) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for s in self.samples.iter().filter(|s| s.matches(name, filter)) {
            if let Some(v) = s.label(label) {
                *out.entry(v.to_string()).or_insert(0.0) += s.value;
            }
        }
        out
    }

    /// Sums of `name` grouped by two labels.
    pub fn by2(&self, name: &str, a: &str, b: &str) -> BTreeMap<(String, String), f64> {
        let mut out = BTreeMap::new();
        for s in self.samples.iter().filter(|s| s.name == name) {
            if let (Some(x), Some(y)) = (s.label(a), s.label(b)) {
                *out.entry((x.to_string(), y.to_string())).or_insert(0.0) += s.value;
            }
        }
        out
    }

    /// The buckets of histogram `name`, summed over every series matching `filter`.
    pub fn buckets(&self, name: &str, filter: &[(&str, &str)]) -> Buckets {
        let bucket = format!("{name}_bucket");
        let mut by_le: Vec<(f64, f64)> = Vec::new();
        for s in self.samples.iter().filter(|s| s.matches(&bucket, filter)) {
            let Some(le) = s.label("le").and_then(parse_value) else {
                continue;
            };
            match by_le.iter_mut().find(|(l, _)| *l == le) {
                Some((_, count)) => *count += s.value,
                None => by_le.push((le, s.value)),
            }
        }
        by_le.sort_by(|x, y| x.0.total_cmp(&y.0));
        by_le
    }
}

/// The `q` quantile of a window's bucket counts, interpolated inside the bucket as
/// Prometheus' `histogram_quantile` does; `None` without observations.
pub fn quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut lower = (0.0, 0.0);
    for &(le, count) in buckets {
        if count >= rank {
            if le.is_infinite() {
                // Past the last finite bucket: its bound is the best estimate.
                return Some(lower.0);
            }
            let in_bucket = count - lower.1;
            let fraction = if in_bucket > 0.0 {
                (rank - lower.1) / in_bucket
            } else {
                1.0
            };
            return Some(lower.0 + (le - lower.0) * fraction);
        }
        lower = (le, count);
    }
    Some(lower.0)
}

/// `later - earlier` per bucket (a window's observations); counters that went backwards
/// (a restart) count from zero.
pub fn bucket_delta(later: &[(f64, f64)], earlier: &[(f64, f64)]) -> Buckets {
    later
        .iter()
        .map(|&(le, count)| {
            let before = earlier
                .iter()
                .find(|(l, _)| *l == le)
                .map_or(0.0, |(_, c)| *c);
            (
                le,
                if count >= before {
                    count - before
                } else {
                    count
                },
            )
        })
        .collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let (name_and_labels, value) = match line.find('{') {
        Some(open) => {
            let close = line.rfind('}')?;
            let labels = parse_labels(line.get(open + 1..close)?)?;
            let value = line.get(close + 1..)?.split_whitespace().next()?;
            ((line[..open].to_string(), labels), value)
        }
        None => {
            let mut parts = line.split_whitespace();
            ((parts.next()?.to_string(), Vec::new()), parts.next()?)
        }
    };
    Some(Sample {
        name: name_and_labels.0,
        labels: name_and_labels.1,
        value: parse_value(value)?,
    })
}

fn parse_labels(text: &str) -> Option<Vec<(String, String)>> {
    let mut labels = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Some(labels);
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if chars.next() != Some('"') {
            return None;
        }
        let mut value = String::new();
        loop {
            match chars.next()? {
                '"' => break,
                '\\' => match chars.next()? {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                c => value.push(c),
            }
        }
        labels.push((key.trim().to_string(), value));
    }
}

fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        other => other.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP relay_push_total Push outcomes.
# TYPE relay_push_total counter
relay_push_total 0
relay_push_total{service="apns",result="delivered"} 7
relay_push_total{service="apns",result="retry"} 2
relay_push_total{service="fcm",result="delivered"} 3
relay_x{a="q\"uo,te",b="back\\slash"} 1.5
relay_end_to_end_seconds_bucket{le="0.1"} 2
relay_end_to_end_seconds_bucket{le="1"} 8
relay_end_to_end_seconds_bucket{le="+Inf"} 10
relay_end_to_end_seconds_sum 12.5
relay_end_to_end_seconds_count 10
"#;

    #[test]
    fn sums_and_groups_by_label() {
        let s = Scrape::parse(TEXT);
        assert_eq!(s.sum("relay_push_total", &[]), 12.0);
        assert_eq!(s.sum("relay_push_total", &[("result", "delivered")]), 10.0);
        let by = s.by("relay_push_total", "service", &[]);
        assert_eq!(by.get("apns"), Some(&9.0));
        assert_eq!(by.get("fcm"), Some(&3.0));
        assert_eq!(by.len(), 2, "the unlabelled series is not a service");
        let pairs = s.by2("relay_push_total", "service", "result");
        assert_eq!(pairs.get(&("apns".into(), "retry".into())), Some(&2.0));
    }

    #[test]
    fn label_values_may_hold_escapes_and_commas() {
        let s = Scrape::parse(TEXT);
        assert_eq!(s.sum("relay_x", &[("a", "q\"uo,te")]), 1.5);
        assert_eq!(s.sum("relay_x", &[("b", "back\\slash")]), 1.5);
    }

    #[test]
    fn quantiles_interpolate_like_prometheus() {
        let s = Scrape::parse(TEXT);
        let b = s.buckets("relay_end_to_end_seconds", &[]);
        assert_eq!(b, vec![(0.1, 2.0), (1.0, 8.0), (f64::INFINITY, 10.0)]);
        // rank 5 of 10 lies half way through the (0.1, 1] bucket (2 → 8).
        let p50 = quantile(0.5, &b).unwrap();
        assert!((p50 - 0.55).abs() < 1e-9, "{p50}");
        // rank 9.9 is in +Inf: the highest finite bound.
        assert_eq!(quantile(0.99, &b), Some(1.0));
        assert_eq!(quantile(0.5, &[(0.1, 0.0), (f64::INFINITY, 0.0)]), None);
    }

    #[test]
    fn bucket_delta_is_the_window_and_survives_a_reset() {
        let later = vec![(0.1, 5.0), (f64::INFINITY, 9.0)];
        let earlier = vec![(0.1, 2.0), (f64::INFINITY, 3.0)];
        assert_eq!(
            bucket_delta(&later, &earlier),
            vec![(0.1, 3.0), (f64::INFINITY, 6.0)]
        );
        let reset = vec![(0.1, 1.0), (f64::INFINITY, 1.0)];
        assert_eq!(bucket_delta(&reset, &earlier), reset);
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let s = Scrape::parse("relay_a{b=\"unterminated} 1\nrelay_c notanumber\nrelay_d 4\n");
        assert_eq!(s.sum("relay_a", &[]), 0.0);
        assert_eq!(s.sum("relay_d", &[]), 4.0);
    }
}
