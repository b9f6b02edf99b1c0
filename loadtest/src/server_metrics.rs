//! The server's own Prometheus metrics (`GET /metrics`, no token needed), read before and
//! after a measured phase: how many appends (batches) the phase took and how long they
//! waited for the disk, how many frames were queued, how many slow consumers were closed.

use std::collections::BTreeMap;

use serde::Serialize;

/// `name{labels}` → value, for every `convene_*` sample.
pub type Scrape = BTreeMap<String, f64>;

pub fn parse(text: &str) -> Scrape {
    text.lines()
        .filter(|l| l.starts_with("convene_"))
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_string(), value.trim().parse().ok()?))
        })
        .collect()
}

/// What changed on the server during a phase.
#[derive(Clone, Debug, Serialize)]
pub struct Delta {
    /// Commands decided (including refused ones).
    pub commands: f64,
    /// Events appended to logs.
    pub events: f64,
    /// Frames queued to connections.
    pub deliveries: f64,
    pub slow_consumers: f64,
    /// Appends to the store: one per batch of commands decided together.
    pub appends: f64,
    pub append_seconds_total: f64,
    pub append_ms_mean: f64,
    /// Every counter and histogram sample that changed.
    pub changed: BTreeMap<String, f64>,
}

pub fn delta(before: &Scrape, after: &Scrape) -> Delta {
    let d = |k: &str| after.get(k).copied().unwrap_or(0.0) - before.get(k).copied().unwrap_or(0.0);
    let appends = d("convene_append_seconds_count");
    let append_s = d("convene_append_seconds_sum");
    let changed = after
        .iter()
        .filter(|(k, _)| !k.contains("_bucket"))
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, v)| *v != 0.0)
        .collect();
    Delta {
        commands: d("convene_commands_total"),
        events: d("convene_events_total"),
        deliveries: d("convene_deliveries_total"),
        slow_consumers: d("convene_slow_consumers_total"),
        appends,
        append_seconds_total: append_s,
        append_ms_mean: if appends > 0.0 {
            append_s * 1000.0 / appends
        } else {
            0.0
        },
        changed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_are_read() {
        let a = parse("# HELP x\nconvene_commands_total 3\nconvene_append_seconds_sum 0.5\nconvene_append_seconds_count 2\n");
        let b = parse("convene_commands_total 10\nconvene_append_seconds_sum 1.5\nconvene_append_seconds_count 4\nconvene_rejections_total{code=\"conflict\"} 1\n");
        let d = delta(&a, &b);
        assert_eq!(d.commands, 7.0);
        assert_eq!(d.appends, 2.0);
        assert_eq!(d.append_ms_mean, 500.0);
        assert_eq!(
            d.changed.get("convene_rejections_total{code=\"conflict\"}"),
            Some(&1.0)
        );
    }
}
