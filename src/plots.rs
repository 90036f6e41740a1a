//! The latency lab's charts, each written as SVG and PNG: latency CDFs per mode, latency over a run
//! (the micro-batch sawtooth), and latency against offered throughput from a sweep.
//!
//! Text is drawn with a bundled font (DejaVu Sans, `assets/`), so no machine needs fonts installed.

use std::path::{Path, PathBuf};
use std::sync::Once;

use hdrhistogram::Histogram;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::compare::{CompareReport, SweepReport};

const SIZE: (u32, u32) = (960, 600);
static FONT: Once = Once::new();

fn register_font() {
    FONT.call_once(|| {
        // The font is compiled in: registering it cannot fail on a valid file.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            include_bytes!("../assets/DejaVuSans.ttf"),
        );
    });
}

/// One line of a chart: a label and its points.
struct Line {
    label: String,
    points: Vec<(f64, f64)>,
}

/// How a chart's axes and series look.
#[derive(Clone, Copy)]
struct Style {
    log_x: bool,
    log_y: bool,
    /// Whether the x (y) axis holds latencies in µs, to be labelled as durations.
    x_latency: bool,
    y_latency: bool,
    /// Points instead of lines (for sampled data).
    scatter: bool,
}

/// Whether a log axis over `[lo, hi]` is wide enough to label only its powers of ten: three or more
/// of them in range.
fn powers_only(lo: f64, hi: f64) -> bool {
    (hi.log10().floor() - lo.log10().ceil()) as i64 + 1 >= 3
}

/// How an axis's values read: latencies (µs) as durations, other values as counts. On a log axis that
/// spans three powers of ten or more, only the powers of ten are labelled (1 µs, 10 µs, ... 1 s), so
/// that labels neither crowd nor read as odd values; on a narrower one, every tick is (see
/// [`log_ticks`]).
fn axis_label(latency: bool, log: bool, range: (f64, f64)) -> impl Fn(&f64) -> String {
    let decades_only = log && powers_only(range.0, range.1);
    move |v: &f64| {
        if decades_only && (v.log10() - v.log10().round()).abs() > 1e-6 {
            return String::new();
        }
        if latency {
            decade_us(*v)
        } else if *v >= 1e6 {
            format!("{}M", trim(v / 1e6))
        } else if log && *v >= 1e3 {
            format!("{}k", trim(v / 1e3))
        } else {
            trim(*v)
        }
    }
}

/// The ticks of a log axis over `[lo, hi]`: the labelled (bold) ones and the grid's light ones.
/// Light: every `m × 10^k` (m = 1..9) in range, or, on an axis too narrow for three of those, every
/// multiple of a tenth of its top power of ten. Labelled: the powers of ten when the axis spans
/// three or more of them; else the light ticks whose leading digits are 1, 2 or 5 (on the finer
/// grid: a multiple of 5), or every light tick if that gives fewer than three. So a narrow axis (50
/// to 300 ms) reads `50 ms, 100 ms, 200 ms`, where plotters' own log ticks, which start at the first
/// power of ten in range, give one lone `100 ms`.
fn log_ticks(lo: f64, hi: f64) -> (Vec<f64>, Vec<f64>) {
    if !(lo > 0.0 && hi > lo && hi.is_finite()) {
        return (Vec::new(), Vec::new());
    }
    // Every `m × 10^k` in range (m = 1..9), with its m.
    let mut coarse = Vec::new();
    let mut power = 10f64.powi(lo.log10().floor() as i32);
    while power <= hi {
        coarse.extend(
            (1..=9u64)
                .map(|m| (m as f64 * power, m))
                .filter(|(v, _)| *v >= lo && *v <= hi),
        );
        power *= 10.0;
    }
    let fine = coarse.len() < 3;
    let light = match fine {
        false => coarse,
        true => {
            // Steps of a tenth of the top decade's power: 120, 130, ... 190 ms.
            let unit = 10f64.powi(hi.log10().floor() as i32 - 1);
            ((lo / unit).ceil() as u64..=(hi / unit).floor() as u64)
                .map(|m| (m as f64 * unit, m))
                .collect()
        }
    };
    let preferred = |m: u64| match fine {
        false => matches!(m, 1 | 2 | 5),
        true => m.is_multiple_of(5),
    };
    let is_power = |v: f64| (v.log10() - v.log10().round()).abs() < 1e-9;
    let powers: Vec<f64> = light.iter().map(|t| t.0).filter(|v| is_power(*v)).collect();
    let picked: Vec<f64> = light
        .iter()
        .filter(|t| preferred(t.1))
        .map(|t| t.0)
        .collect();
    let light: Vec<f64> = light.into_iter().map(|t| t.0).collect();
    let bold = if powers_only(lo, hi) {
        powers
    } else if picked.len() >= 3 {
        picked
    } else {
        light.clone()
    };
    (bold, light)
}

/// A latency in µs in the unit that reads best, with no trailing zeros (1 µs, 250 ms, 1.5 s).
fn decade_us(us: f64) -> String {
    if us < 1.0 {
        format!("{} ns", trim(us * 1e3))
    } else if us < 1e3 {
        format!("{} µs", trim(us))
    } else if us < 1e6 {
        format!("{} ms", trim(us / 1e3))
    } else {
        format!("{} s", trim(us / 1e6))
    }
}

/// A number with at most 3 significant digits and no trailing zeros.
fn trim(v: f64) -> String {
    let text = if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    match text.contains('.') {
        true => text.trim_end_matches('0').trim_end_matches('.').to_string(),
        false => text,
    }
}

/// Draws `lines` on the axes `style` asks for, with a legend.
fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    lines: &[Line],
    style: Style,
) -> Result<(), String> {
    let Style {
        log_x,
        log_y,
        x_latency,
        y_latency,
        scatter,
    } = style;
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| format!("{e:?}");
    root.fill(&WHITE).map_err(err)?;
    let all = lines.iter().flat_map(|l| l.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in all {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if x0 > x1 {
        return Err("nothing to plot".into());
    }
    // Log axes need positive ranges; linear ones start at 0.
    let (x0, x1) = if log_x {
        (x0.max(1e-3) / 1.2, x1 * 1.2)
    } else {
        (0.0, x1 * 1.02)
    };
    let (y0, y1) = if log_y {
        (y0.max(1e-3) / 1.5, y1 * 1.5)
    } else {
        (0.0, y1.max(1e-9) * 1.05)
    };
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(80);
    macro_rules! finish {
        ($chart:expr) => {{
            let mut chart = $chart;
            let (x_label, y_label) = (
                axis_label(x_latency, log_x, (x0, x1)),
                axis_label(y_latency, log_y, (y0, y1)),
            );
            chart
                .configure_mesh()
                .x_desc(x_desc)
                .y_desc(y_desc)
                .x_labels(8)
                .x_label_formatter(&x_label)
                .y_label_formatter(&y_label)
                .label_style(("sans-serif", 15))
                .draw()
                .map_err(err)?;
            for (i, line) in lines.iter().enumerate() {
                let color = Palette99::pick(i).to_rgba();
                let series = if scatter {
                    chart
                        .draw_series(
                            line.points
                                .iter()
                                .map(|p| Circle::new(*p, 1, color.filled())),
                        )
                        .map_err(err)?
                } else {
                    chart
                        .draw_series(LineSeries::new(
                            line.points.iter().copied(),
                            color.stroke_width(2),
                        ))
                        .map_err(err)?
                };
                series.label(line.label.clone()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
                });
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 16))
                .position(SeriesLabelPosition::UpperLeft)
                .draw()
                .map_err(err)?;
        }};
    }
    let log_axis = |lo: f64, hi: f64| {
        let (bold, light) = log_ticks(lo, hi);
        (lo..hi)
            .log_scale()
            .with_key_points(bold)
            .with_light_points(light)
    };
    match (log_x, log_y) {
        (true, true) => finish!(builder
            .build_cartesian_2d(log_axis(x0, x1), log_axis(y0, y1))
            .map_err(err)?),
        (true, false) => finish!(builder
            .build_cartesian_2d(log_axis(x0, x1), y0..y1)
            .map_err(err)?),
        (false, true) => finish!(builder
            .build_cartesian_2d(x0..x1, log_axis(y0, y1))
            .map_err(err)?),
        (false, false) => finish!(builder.build_cartesian_2d(x0..x1, y0..y1).map_err(err)?),
    }
    root.present().map_err(err)
}

/// Writes `stem.svg` and `stem.png` and returns their paths; nothing if no line has a point (a run too
/// short to measure anything after its warm-up).
fn write_both(
    stem: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    lines: &[Line],
    style: Style,
) -> Result<Vec<PathBuf>, String> {
    if lines.iter().all(|l| l.points.is_empty()) {
        return Ok(Vec::new());
    }
    register_font();
    let (svg, png) = (stem.with_extension("svg"), stem.with_extension("png"));
    draw(
        SVGBackend::new(&svg, SIZE).into_drawing_area(),
        title,
        x_desc,
        y_desc,
        lines,
        style,
    )?;
    draw(
        BitMapBackend::new(&png, SIZE).into_drawing_area(),
        title,
        x_desc,
        y_desc,
        lines,
        style,
    )?;
    Ok(vec![svg, png])
}

fn mode_label(mode: &str, interval: Option<u64>) -> String {
    interval.map_or(mode.to_string(), |ms| format!("{mode} {ms} ms"))
}

/// The fraction of results at or under each latency (µs), from a histogram in ns. It starts at the
/// smallest latency recorded, never at zero (a log axis has no zero to draw a line from).
fn cdf(histogram: &Histogram<u64>) -> Vec<(f64, f64)> {
    histogram
        .iter_quantiles(20)
        .map(|v| (v.value_iterated_to() as f64 / 1e3, v.quantile_iterated_to()))
        .filter(|(us, _)| *us > 0.0)
        .collect()
}

/// The latency CDF of each mode (over all its runs) and its latency over the first run's time.
pub fn compare_plots(report: &CompareReport, dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut cdfs = Vec::new();
    let mut over_time = Vec::new();
    for (i, summary) in report.modes.iter().enumerate() {
        let runs: Vec<_> = report.runs.iter().filter(|r| r.mode_index == i).collect();
        let mut merged = runs[0].result.histogram.clone();
        for run in &runs[1..] {
            merged
                .add(&run.result.histogram)
                .map_err(|e| format!("{e:?}"))?;
        }
        let label = mode_label(&summary.mode, summary.batch_interval_ms);
        cdfs.push(Line {
            label: label.clone(),
            points: cdf(&merged),
        });
        over_time.push(Line {
            label,
            points: runs[0].result.samples.clone(),
        });
    }
    let title = format!(
        "{}: latency from intended send time to result",
        report.config.workload
    );
    let cdf_style = Style {
        log_x: true,
        log_y: false,
        x_latency: true,
        y_latency: false,
        scatter: false,
    };
    let mut files = write_both(
        &dir.join("latency_cdf"),
        &title,
        "latency (log scale)",
        "fraction of results at or under it",
        &cdfs,
        cdf_style,
    )?;
    let title = format!(
        "{}: latency of sampled results over the first run",
        report.config.workload
    );
    let time_style = Style {
        log_x: false,
        log_y: true,
        x_latency: false,
        y_latency: true,
        scatter: true,
    };
    files.extend(write_both(
        &dir.join("latency_over_time"),
        &title,
        "intended send time (s)",
        "latency (log scale)",
        &over_time,
        time_style,
    )?);
    Ok(files)
}

/// Latency (p50 and p99) against offered throughput, per mode, from a sweep.
pub fn sweep_plot(sweep: &SweepReport, dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut lines: Vec<Line> = Vec::new();
    for p in &sweep.points {
        for (which, value) in [("p50", p.p50_us), ("p99", p.p99_us)] {
            let label = format!("{} {which}", mode_label(&p.mode, p.batch_interval_ms));
            match lines.iter_mut().find(|l| l.label == label) {
                Some(line) => line.points.push((p.offered, value)),
                None => lines.push(Line {
                    label,
                    points: vec![(p.offered, value)],
                }),
            }
        }
    }
    let style = Style {
        log_x: true,
        log_y: true,
        x_latency: false,
        y_latency: true,
        scatter: false,
    };
    write_both(
        &dir.join("latency_vs_throughput"),
        "latency against offered throughput",
        "offered records/s (log scale)",
        "latency (log scale)",
        &lines,
        style,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wide_log_axis_labels_only_powers_of_ten_as_durations() {
        let label = axis_label(true, true, (0.5, 2e6));
        let labels: Vec<String> = [1.0, 2.0, 5.0, 10.0, 100.0, 1e3, 3e3, 1e4, 1e6]
            .iter()
            .map(&label)
            .collect();
        assert_eq!(
            labels,
            ["1 µs", "", "", "10 µs", "100 µs", "1 ms", "", "10 ms", "1 s"]
        );
        // No zero, and no "0.00 µs": the smallest latency a histogram holds is 1 ns.
        assert_eq!(label(&0.001), "1 ns");
    }

    #[test]
    fn a_narrow_log_axis_labels_every_tick() {
        let label = axis_label(true, true, (700e3, 2.5e6));
        assert_eq!(label(&800e3), "800 ms");
        assert_eq!(label(&1.5e6), "1.5 s");
        let rates = axis_label(false, true, (1e3, 1e7));
        assert_eq!(rates(&1e4), "10k");
        assert_eq!(rates(&1e6), "1M");
        assert_eq!(rates(&2e6), "");
        let linear = axis_label(false, false, (0.0, 30.0));
        assert_eq!(linear(&12.5), "12.5");
        assert_eq!(linear(&10.0), "10");
    }

    #[test]
    fn a_narrow_log_axis_gets_ticks_below_its_first_power_of_ten() {
        // 50 ms to 300 ms: plotters alone labels only 100 ms.
        let (bold, light) = log_ticks(50e3, 300e3);
        assert_eq!(bold, [50e3, 100e3, 200e3]);
        assert_eq!(light, [50e3, 60e3, 70e3, 80e3, 90e3, 100e3, 200e3, 300e3]);
        // Too narrow for three 1..9 ticks: a finer grid, labelled at multiples of 5 (or every
        // tick, when that gives fewer than three).
        let (bold, light) = log_ticks(120e3, 190e3);
        assert_eq!(
            light,
            [120e3, 130e3, 140e3, 150e3, 160e3, 170e3, 180e3, 190e3]
        );
        assert_eq!(bold, light);
        let (bold, _) = log_ticks(95e3, 260e3);
        assert_eq!(bold, [100e3, 150e3, 200e3, 250e3]);
        // Two powers of ten: 1, 2, 5 (80 ms to 1.2 s: 100 ms, 200 ms, 500 ms, 1 s).
        assert_eq!(log_ticks(80e3, 1.2e6).0, [100e3, 200e3, 500e3, 1e6]);
        // Three or more: only they are labelled.
        let (bold, light) = log_ticks(0.5, 2e3);
        assert_eq!(bold, [1.0, 10.0, 100.0, 1e3]);
        // 0.5 to 0.9, three whole decades, 1,000 and 2,000.
        assert_eq!(light.len(), 5 + 9 * 3 + 2);
        assert_eq!(log_ticks(0.0, 10.0), (vec![], vec![]));
    }

    #[test]
    fn a_cdf_never_starts_at_zero() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3).unwrap();
        for ns in [1_000, 2_000, 5_000, 1_000_000] {
            h.record(ns).unwrap();
        }
        let points = cdf(&h);
        assert!(points.first().unwrap().0 >= 0.999, "{points:?}");
        assert_eq!(points.last().unwrap().1, 1.0);
    }
}
