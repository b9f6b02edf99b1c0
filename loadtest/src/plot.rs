//! The SVG plot of a run (`--plot FILE.svg`): latency percentiles over time, throughput over
//! time, and the CPU and memory of the server and of the load tester. plotters' SVG backend
//! writes text as SVG text: no font library, no system dependency.

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::prelude::*;

use crate::report::Report;

const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("plot: {e:?}")
}

pub fn write(report: &Report, path: &Path) -> Result<()> {
    let has_resources = !report.resource_samples.is_empty();
    let panels_n = if has_resources { 4 } else { 2 };
    let root = SVGBackend::new(path, (1100, 330 * panels_n as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let title = format!(
        "convene-loadtest {} {}",
        report.scenario,
        serde_json::to_string(&report.params).unwrap_or_default()
    );
    let root = root.titled(&title, ("sans-serif", 18)).map_err(err)?;
    let panels = root.split_evenly((panels_n, 1));

    // The time range: every bucket of every series, and the samples.
    let mut t_max: f64 = 0.0;
    let mut t_min: f64 = f64::MAX;
    for b in report.timeline.values().flatten() {
        t_max = t_max.max(b.t_s);
        t_min = t_min.min(b.t_s);
    }
    if t_min == f64::MAX {
        t_min = 0.0;
    }
    let width = report
        .timeline
        .values()
        .flatten()
        .take(2)
        .map(|b| b.t_s)
        .collect::<Vec<_>>();
    let step = if width.len() == 2 {
        width[1] - width[0]
    } else {
        0.1
    };
    t_max += step;
    if t_max <= t_min {
        t_max = t_min + 1.0;
    }

    // 1. Latency percentiles per bucket (log scale).
    {
        let mut y_max: f64 = 1.0;
        let mut y_min: f64 = f64::MAX;
        for b in report.timeline.values().flatten().filter(|b| b.count > 0) {
            y_max = y_max.max(b.max_ms);
            y_min = y_min.min(b.p50_ms);
        }
        // A decade below the lowest median, at least 0.01 ms.
        let y_min = if y_min == f64::MAX {
            0.01
        } else {
            10f64.powf((y_min.max(0.01)).log10().floor())
        };
        let mut chart = ChartBuilder::on(&panels[0])
            .caption(
                "latency per time bucket (ms, log scale)",
                ("sans-serif", 15),
            )
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(t_min..t_max, (y_min..y_max * 1.5).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("seconds since start")
            .y_desc("ms")
            .draw()
            .map_err(err)?;
        let mut c = 0;
        // A series named `a.b` is a part of series `a` (`ack.vote`, `delivery.polls`): in the
        // table and the JSON, not drawn (one colour each would be too many).
        for (name, buckets) in report.timeline.iter().filter(|(n, _)| !n.contains('.')) {
            let pts = |f: fn(&crate::metrics::Bucket) -> f64| -> Vec<(f64, f64)> {
                buckets
                    .iter()
                    .filter(|b| b.count > 0)
                    .map(|b| (b.t_s + step / 2.0, f(b).max(y_min)))
                    .collect()
            };
            for (label, f, dashed) in [
                (
                    "p50",
                    (|b: &crate::metrics::Bucket| b.p50_ms) as fn(&_) -> f64,
                    false,
                ),
                ("p99", |b| b.p99_ms, false),
                ("max", |b| b.max_ms, true),
            ] {
                let color = COLORS[c % COLORS.len()];
                c += 1;
                let style = if dashed {
                    color.stroke_width(1)
                } else {
                    color.stroke_width(2)
                };
                chart
                    .draw_series(LineSeries::new(pts(f), style))
                    .map_err(err)?
                    .label(format!("{name} {label}"))
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
    }

    // 2. Throughput.
    {
        let buckets = report
            .timeline
            .get(report_throughput_key(report))
            .cloned()
            .unwrap_or_default();
        let y_max = buckets.iter().map(|b| b.per_s).fold(1.0, f64::max);
        let mut chart = ChartBuilder::on(&panels[1])
            .caption(
                format!("throughput: {} per second", report.throughput_what),
                ("sans-serif", 15),
            )
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(t_min..t_max, 0f64..y_max * 1.1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("seconds since start")
            .y_desc("per s")
            .draw()
            .map_err(err)?;
        // A step line: each bucket's rate over its width.
        let mut pts = Vec::new();
        for b in &buckets {
            pts.push((b.t_s, b.per_s));
            pts.push((b.t_s + step, b.per_s));
        }
        chart
            .draw_series(LineSeries::new(pts, COLORS[0].stroke_width(2)))
            .map_err(err)?;
    }

    // 3. CPU and memory, and 4. connections, over the whole run; the measurement window
    // (panels 1 and 2) is shaded.
    if has_resources {
        let s = &report.resource_samples;
        let r_max = s.last().map(|x| x.t_s).unwrap_or(1.0).max(t_max);
        let window = |lo: f64, hi: f64| {
            Rectangle::new([(t_min, lo), (t_max, hi)], RGBColor(230, 230, 230).filled())
        };
        let cpu_max = s
            .iter()
            .map(|x| x.server_cpu_pct.unwrap_or(0.0).max(x.loadtest_cpu_pct))
            .fold(100.0, f64::max);
        let rss_max = s
            .iter()
            .map(|x| x.server_rss_kib.unwrap_or(0).max(x.loadtest_rss_kib))
            .max()
            .unwrap_or(1) as f64
            / 1024.0;
        let mut chart = ChartBuilder::on(&panels[2])
            .caption(
                "whole run: CPU (% of one core, solid) and RSS (MiB, dashed, right axis); grey: the window above",
                ("sans-serif", 15),
            )
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .right_y_label_area_size(60)
            .build_cartesian_2d(0f64..r_max, 0f64..cpu_max * 1.1)
            .map_err(err)?
            .set_secondary_coord(0f64..r_max, 0f64..rss_max * 1.1 + 1.0);
        chart
            .draw_series(std::iter::once(window(0.0, cpu_max * 1.1)))
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("seconds since start")
            .y_desc("CPU %")
            .draw()
            .map_err(err)?;
        chart
            .configure_secondary_axes()
            .y_desc("RSS MiB")
            .draw()
            .map_err(err)?;
        let server_cpu: Vec<(f64, f64)> = s
            .iter()
            .filter_map(|x| x.server_cpu_pct.map(|c| (x.t_s, c)))
            .collect();
        let lt_cpu: Vec<(f64, f64)> = s.iter().map(|x| (x.t_s, x.loadtest_cpu_pct)).collect();
        let server_rss: Vec<(f64, f64)> = s
            .iter()
            .filter_map(|x| x.server_rss_kib.map(|r| (x.t_s, r as f64 / 1024.0)))
            .collect();
        let lt_rss: Vec<(f64, f64)> = s
            .iter()
            .map(|x| (x.t_s, x.loadtest_rss_kib as f64 / 1024.0))
            .collect();
        let (c0, c1) = (COLORS[1], COLORS[0]);
        if !server_cpu.is_empty() {
            chart
                .draw_series(LineSeries::new(server_cpu, c0.stroke_width(2)))
                .map_err(err)?
                .label("server CPU %")
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c0));
        }
        chart
            .draw_series(LineSeries::new(lt_cpu, c1.stroke_width(2)))
            .map_err(err)?
            .label("load tester CPU %")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c1));
        if !server_rss.is_empty() {
            chart
                .draw_secondary_series(DashedLineSeries::new(server_rss, 6, 4, c0.stroke_width(1)))
                .map_err(err)?
                .label("server RSS")
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c0));
        }
        chart
            .draw_secondary_series(DashedLineSeries::new(lt_rss, 6, 4, c1.stroke_width(1)))
            .map_err(err)?
            .label("load tester RSS")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c1));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;

        let conns: Vec<(f64, f64)> = s
            .iter()
            .map(|x| (x.t_s, x.open_connections as f64))
            .collect();
        let c_max = conns.iter().map(|c| c.1).fold(1.0, f64::max);
        let mut chart = ChartBuilder::on(&panels[3])
            .caption(
                "whole run: connections open (load tester's view)",
                ("sans-serif", 15),
            )
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..r_max, 0f64..c_max * 1.1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("seconds since start")
            .y_desc("connections")
            .draw()
            .map_err(err)?;
        chart
            .draw_series(std::iter::once(window(0.0, c_max * 1.1)))
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(conns, COLORS[2].stroke_width(2)))
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

fn report_throughput_key(report: &Report) -> &str {
    report
        .throughput_series
        .as_deref()
        .or_else(|| report.timeline.keys().next().map(String::as_str))
        .unwrap_or("")
}
