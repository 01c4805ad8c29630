//! SVG line charts (plotters' SVG backend), downsampled to at most 500 points a series,
//! and bar charts.

use std::error::Error;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

/// Most points drawn per series.
const MAX_POINTS: usize = 500;

/// Colours of successive series.
const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(90, 90, 90),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
];

/// One line of a chart.
pub(crate) struct Series {
    pub(crate) name: String,
    pub(crate) points: Vec<(f64, f64)>,
    /// Also mark each point with a dot (for sparse series).
    pub(crate) dots: bool,
}

impl Series {
    pub(crate) fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.into(),
            points,
            dots: false,
        }
    }

    pub(crate) fn with_dots(mut self) -> Series {
        self.dots = true;
        self
    }
}

/// A chart's title and axis labels.
pub(crate) struct Chart<'a> {
    pub(crate) title: &'a str,
    pub(crate) x_label: &'a str,
    pub(crate) y_label: &'a str,
    /// Legend in the upper right corner instead of the lower right.
    pub(crate) legend_top: bool,
}

/// Keeps every k-th point (and the last) so at most [`MAX_POINTS`] remain.
pub(crate) fn downsample(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    if points.len() <= MAX_POINTS {
        return points.to_vec();
    }
    let step = points.len().div_ceil(MAX_POINTS - 1);
    let mut out: Vec<(f64, f64)> = points.iter().step_by(step).copied().collect();
    if let Some(&last) = points.last() {
        if out.last() != Some(&last) {
            out.push(last);
        }
    }
    out
}

/// A staircase through `points` (each value holds until the next x), for step functions.
pub(crate) fn steps(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len() * 2);
    for (i, &(x, y)) in points.iter().enumerate() {
        if i > 0 {
            out.push((x, points[i - 1].1));
        }
        out.push((x, y));
    }
    out
}

fn range(values: impl Iterator<Item = f64>, from_zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if from_zero {
        lo = lo.min(0.0);
    }
    if hi - lo < 1e-9 {
        hi = lo + 1.0;
    }
    let pad = (hi - lo) * 0.04;
    (if from_zero && lo >= 0.0 { lo } else { lo - pad }, hi + pad)
}

/// Draws `series` as lines into an 800×480 SVG at `path`; the y axis starts at zero.
pub(crate) fn line_chart(path: &Path, chart: &Chart<'_>, series: &[Series]) -> Result<(), String> {
    draw(path, chart, series).map_err(|e| format!("plotting {}: {e}", path.display()))
}

/// A white SVG canvas of `size` pixels at `path`.
fn canvas(
    path: &Path,
    size: (u32, u32),
) -> Result<DrawingArea<SVGBackend<'_>, Shift>, Box<dyn Error>> {
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE)?;
    Ok(root)
}

/// The chart's frame on `root`: title, margin, and room for the axis labels.
fn frame<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    chart: &Chart<'_>,
    y_label_area: u32,
) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut builder = ChartBuilder::on(root);
    builder
        .caption(chart.title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(y_label_area);
    builder
}

/// Draws each series as a line (with dots if asked) in its colour, then the legend: the
/// same on a linear and on a logarithmic y axis.
fn lines<'a, CT: CoordTranslate<From = (f64, f64)>>(
    ctx: &mut ChartContext<'a, SVGBackend<'a>, CT>,
    series: &[(&Series, Vec<(f64, f64)>)],
    legend_top: bool,
) -> Result<(), Box<dyn Error>> {
    for (i, (s, points)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        ctx.draw_series(LineSeries::new(
            points.iter().copied(),
            color.stroke_width(2),
        ))?
        .label(s.name.as_str())
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
        if s.dots {
            ctx.draw_series(
                points
                    .iter()
                    .map(move |&p| Circle::new(p, 3, color.filled())),
            )?;
        }
    }
    legend(ctx, legend_top)
}

/// Draws the series' legend, upper or lower right.
fn legend<'a, CT: CoordTranslate>(
    ctx: &mut ChartContext<'a, SVGBackend<'a>, CT>,
    top: bool,
) -> Result<(), Box<dyn Error>> {
    ctx.configure_series_labels()
        .position(if top {
            SeriesLabelPosition::UpperRight
        } else {
            SeriesLabelPosition::LowerRight
        })
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

fn draw(path: &Path, chart: &Chart<'_>, series: &[Series]) -> Result<(), Box<dyn Error>> {
    let series: Vec<(&Series, Vec<(f64, f64)>)> =
        series.iter().map(|s| (s, downsample(&s.points))).collect();
    let all = || series.iter().flat_map(|(_, p)| p.iter());
    let (x0, x1) = range(all().map(|p| p.0), false);
    let (y0, y1) = range(all().map(|p| p.1), true);
    let root = canvas(path, (800, 480))?;
    let mut ctx = frame(&root, chart, 64).build_cartesian_2d(x0..x1, y0..y1)?;
    ctx.configure_mesh()
        .x_desc(chart.x_label)
        .y_desc(chart.y_label)
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    lines(&mut ctx, &series, chart.legend_top)?;
    root.present()?;
    Ok(())
}

/// Like [`line_chart`], with a logarithmic y axis; points must be positive (others are
/// skipped).
pub(crate) fn log_chart(path: &Path, chart: &Chart<'_>, series: &[Series]) -> Result<(), String> {
    draw_log(path, chart, series).map_err(|e| format!("plotting {}: {e}", path.display()))
}

fn draw_log(path: &Path, chart: &Chart<'_>, series: &[Series]) -> Result<(), Box<dyn Error>> {
    let series: Vec<(&Series, Vec<(f64, f64)>)> = series
        .iter()
        .map(|s| {
            let positive: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|p| p.1.is_finite() && p.1 > 0.0)
                .collect();
            (s, downsample(&positive))
        })
        .collect();
    let all = || series.iter().flat_map(|(_, p)| p.iter());
    let (x0, x1) = range(all().map(|p| p.0), true);
    let (mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY);
    for (_, y) in all() {
        y0 = y0.min(*y);
        y1 = y1.max(*y);
    }
    if !y0.is_finite() {
        (y0, y1) = (1e-16, 1.0);
    }
    let (y0, y1) = (y0 / 2.0, y1 * 2.0);
    let root = canvas(path, (800, 480))?;
    let mut ctx = frame(&root, chart, 72).build_cartesian_2d(x0..x1, (y0..y1).log_scale())?;
    ctx.configure_mesh()
        .x_desc(chart.x_label)
        .y_desc(chart.y_label)
        .y_label_formatter(&|y| format!("{y:.0e}"))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    lines(&mut ctx, &series, chart.legend_top)?;
    root.present()?;
    Ok(())
}

/// One group of bars: a value per category (see [`log_bar_chart`]).
pub(crate) struct Bars {
    pub(crate) name: String,
    pub(crate) values: Vec<f64>,
}

/// Bars side by side for each of `categories`, one colour per [`Bars`], on a logarithmic
/// y axis (for costs that span orders of magnitude); values that are not positive are
/// left out. A 960×480 SVG at `path`.
pub(crate) fn log_bar_chart(
    path: &Path,
    chart: &Chart<'_>,
    categories: &[&str],
    bars: &[Bars],
) -> Result<(), String> {
    draw_log_bars(path, chart, categories, bars)
        .map_err(|e| format!("plotting {}: {e}", path.display()))
}

fn draw_log_bars(
    path: &Path,
    chart: &Chart<'_>,
    categories: &[&str],
    bars: &[Bars],
) -> Result<(), Box<dyn Error>> {
    let shown = |v: &f64| v.is_finite() && *v > 0.0;
    let values = || {
        bars.iter()
            .flat_map(|b| b.values.iter())
            .filter(|v| shown(v))
    };
    let lo = values().copied().fold(f64::INFINITY, f64::min);
    let hi = values().copied().fold(f64::NEG_INFINITY, f64::max);
    let (y0, y1) = if lo.is_finite() {
        (lo / 2.0, hi * 2.0)
    } else {
        (0.1, 1.0)
    };
    let k = categories.len().max(1);
    let root = canvas(path, (960, 480))?;
    let mut ctx =
        frame(&root, chart, 72).build_cartesian_2d(-0.5..k as f64 - 0.5, (y0..y1).log_scale())?;
    let name_of = |x: &f64| {
        let i = x.round();
        let on_category = (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < categories.len();
        if on_category {
            categories[i as usize].to_string()
        } else {
            String::new()
        }
    };
    ctx.configure_mesh()
        .x_desc(chart.x_label)
        .y_desc(chart.y_label)
        .x_labels(k)
        .x_label_formatter(&name_of)
        .y_label_formatter(&|y| {
            if *y >= 1.0 {
                format!("{y:.0}")
            } else {
                format!("{y:.2}")
            }
        })
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    let width = 0.8 / bars.len().max(1) as f64;
    for (b, group) in bars.iter().enumerate() {
        let color = COLORS[b % COLORS.len()];
        let left = |i: usize| i as f64 - 0.4 + b as f64 * width;
        ctx.draw_series(
            group
                .values
                .iter()
                .enumerate()
                .filter(|(_, v)| shown(v))
                .map(|(i, &v)| {
                    Rectangle::new([(left(i), y0), (left(i) + width, v)], color.filled())
                }),
        )?
        .label(group.name.as_str())
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled()));
    }
    legend(&mut ctx, chart.legend_top)?;
    root.present()?;
    Ok(())
}
