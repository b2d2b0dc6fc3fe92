//! The SVG charts of `report` and `compare`, drawn with plotters: training curves per
//! epoch, accuracy per subgroup, accuracy against DoB per run.
//!
//! Each keeps its labels inside the picture: legends go below the plot, not over the lines;
//! group names get a column as wide as the longest; a run's point carries a number and the
//! legend its name.

use std::path::Path;

use anyhow::bail;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One line of a panel: a value per epoch (non-finite values are left out).
#[derive(Debug, Clone)]
pub struct Series {
    /// The legend's text.
    pub name: String,
    /// One value per epoch of the chart.
    pub values: Vec<f64>,
}

/// A panel of [`curves`]: its lines over the epochs.
#[derive(Debug, Clone)]
pub struct Panel {
    /// The caption.
    pub title: &'static str,
    /// The y axis's description.
    pub y_desc: &'static str,
    /// The lines.
    pub series: Vec<Series>,
    /// A fixed top of the y axis (100 for percentages); the data's maximum otherwise.
    pub y_max: Option<f64>,
}

/// A bar of [`group_bars`].
#[derive(Debug, Clone)]
pub struct Bar {
    /// The group (`Black|Female`).
    pub name: String,
    /// Its accuracy, percent.
    pub percent: f64,
    /// Its images.
    pub n: u64,
}

/// A point of [`accuracy_vs_dob`].
#[derive(Debug, Clone)]
pub struct Point {
    /// The run.
    pub label: String,
    /// Accuracy, percent.
    pub accuracy: f64,
    /// Degree of bias, percent.
    pub dob: f64,
}

const FONT: &str = "sans-serif";
const TEXT: u32 = 13;
const LEGEND_ROW: u32 = 18;
const BAR_COLOUR: RGBColor = RGBColor(70, 110, 180);

/// Width in pixels of `text` at `size` px, generously (0.62 em a character): labels are
/// placed so that even a wide font stays inside the picture.
fn text_width(text: &str, size: u32) -> u32 {
    (text.chars().count() as f64 * 0.62 * f64::from(size)).ceil() as u32
}

fn style(size: u32, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font()).pos(Pos::new(h, v))
}

/// A tick's number without trailing zeros: `0.4`, `100`, not `0.40` or `100.0`.
fn trim_zeros(v: f64) -> String {
    let text = format!("{v:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn plot_error<E: std::fmt::Debug>(error: E) -> anyhow::Error {
    anyhow::anyhow!("plotting failed: {error:?}")
}

/// Rows of coloured swatches and names under a plot.
fn legend(area: &DrawingArea<SVGBackend<'_>, Shift>, names: &[&str]) -> anyhow::Result<()> {
    for (i, name) in names.iter().enumerate() {
        let colour = Palette99::pick(i).to_rgba();
        let y = (LEGEND_ROW / 2 + i as u32 * LEGEND_ROW) as i32;
        area.draw(&PathElement::new(
            vec![(60, y), (84, y)],
            colour.stroke_width(2),
        ))
        .map_err(plot_error)?;
        area.draw(&Circle::new((72, y), 3, colour.filled()))
            .map_err(plot_error)?;
        area.draw(&Text::new(
            (*name).to_owned(),
            (92, y),
            style(TEXT, HPos::Left, VPos::Center),
        ))
        .map_err(plot_error)?;
    }
    Ok(())
}

/// Panels side by side, x = epoch (integer ticks only, each epoch a point, so one epoch
/// shows), the legend of each under it.
///
/// # Errors
/// No epochs, or the file cannot be written.
pub fn curves(path: &Path, epochs: &[u32], panels: &[Panel]) -> anyhow::Result<()> {
    let Some(&last) = epochs.last() else {
        bail!("{}: no epochs to draw", path.display());
    };
    let rows = panels.iter().map(|p| p.series.len()).max().unwrap_or(0) as u32;
    let widest = panels
        .iter()
        .flat_map(|p| &p.series)
        .map(|s| text_width(&s.name, TEXT))
        .max()
        .unwrap_or(0);
    let panel_width = (100 + widest).max(520);
    let chart_height = 340;
    let size = (
        panel_width * panels.len() as u32,
        chart_height + 8 + LEGEND_ROW * rows,
    );
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let last = last as i32;
    for (area, panel) in root.split_evenly((1, panels.len())).iter().zip(panels) {
        let (plot, below) = area.split_vertically(chart_height);
        let y_max = panel.y_max.unwrap_or_else(|| {
            panel
                .series
                .iter()
                .flat_map(|s| s.values.iter().copied())
                .filter(|v| v.is_finite())
                .fold(0.0f64, f64::max)
                .max(1e-3)
                * 1.1
        });
        let mut chart = ChartBuilder::on(&plot)
            .caption(panel.title, (FONT, 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(52)
            .build_cartesian_2d(0..last + 1, 0.0..y_max)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .x_desc("epoch")
            .y_desc(panel.y_desc)
            .y_label_formatter(&|v| trim_zeros(*v))
            .x_labels((last as usize + 2).min(12))
            .x_label_formatter(&|e| {
                if (1..=last).contains(e) {
                    e.to_string()
                } else {
                    String::new()
                }
            })
            .draw()
            .map_err(plot_error)?;
        for (i, series) in panel.series.iter().enumerate() {
            let colour = Palette99::pick(i).to_rgba();
            let points: Vec<(i32, f64)> = epochs
                .iter()
                .zip(&series.values)
                .filter(|(_, v)| v.is_finite())
                .map(|(&e, &v)| (e as i32, v))
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))
                .map_err(plot_error)?;
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 3, colour.filled())))
                .map_err(plot_error)?;
        }
        let names: Vec<&str> = panel.series.iter().map(|s| s.name.as_str()).collect();
        legend(&below, &names)?;
    }
    root.present().map_err(plot_error)
}

/// Horizontal bars, one per group, from 0 to 100 % (no cut axis to exaggerate gaps), each
/// labelled with its accuracy and size; a line marks `overall` (percent).
///
/// # Errors
/// No groups, or the file cannot be written.
pub fn group_bars(
    path: &Path,
    title: &str,
    bars: &[Bar],
    overall: Option<f64>,
) -> anyhow::Result<()> {
    if bars.is_empty() {
        bail!("{}: no groups to draw", path.display());
    }
    let names = bars
        .iter()
        .map(|b| text_width(&b.name, TEXT))
        .max()
        .unwrap_or(0)
        + 20;
    let row = 26;
    let n = bars.len() as u32;
    let size = (names + 620, 90 + row * n);
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 18))
        .margin(14)
        .x_label_area_size(36)
        .y_label_area_size(names)
        .build_cartesian_2d(0.0..100.0, 0.0..f64::from(n))
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(TRANSPARENT)
        .y_labels(0)
        .x_labels(11)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .x_desc("accuracy (%)")
        .draw()
        .map_err(plot_error)?;
    // Under the bars: it shows between them, never across their labels.
    if let Some(overall) = overall {
        overall_line(&root, &mut chart, overall, n)?;
    }
    for (i, bar) in bars.iter().enumerate() {
        // The first group on top.
        draw_bar(&root, &mut chart, bar, f64::from(n - 1 - i as u32))?;
    }
    root.present().map_err(plot_error)
}

/// The chart of [`group_bars`]: accuracy in % (x), a row per group (y).
type BarChart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The line at the overall accuracy, labelled, over `n` rows.
fn overall_line(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    chart: &mut BarChart<'_, '_>,
    overall: f64,
    n: u32,
) -> anyhow::Result<()> {
    let top = f64::from(n);
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(overall, 0.0), (overall, top)],
            BLACK.mix(0.7).stroke_width(1),
        )))
        .map_err(plot_error)?;
    let (px, py) = chart.backend_coord(&(overall, top));
    // Towards the picture's middle from the line, so that 99 % stays inside.
    let (x, h) = if overall > 50.0 {
        (px - 4, HPos::Right)
    } else {
        (px + 4, HPos::Left)
    };
    root.draw(&Text::new(
        format!("overall {overall:.1} %"),
        (x, py - 2),
        style(12, h, VPos::Bottom),
    ))
    .map_err(plot_error)?;
    Ok(())
}

/// One group's bar from row `low`, its accuracy and size on it, its name to the left.
fn draw_bar(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    chart: &mut BarChart<'_, '_>,
    bar: &Bar,
    low: f64,
) -> anyhow::Result<()> {
    let middle = low + 0.5;
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [
                (0.0, low + 0.15),
                (bar.percent.clamp(0.0, 100.0), low + 0.85),
            ],
            BAR_COLOUR.filled(),
        )))
        .map_err(plot_error)?;
    let value = format!("{:.1} % (n = {})", bar.percent, bar.n);
    let (x, colour, h) = if bar.percent >= 45.0 {
        (bar.percent - 1.0, WHITE, HPos::Right)
    } else {
        (bar.percent + 1.0, BLACK, HPos::Left)
    };
    chart
        .draw_series(std::iter::once(Text::new(
            value,
            (x, middle),
            style(12, h, VPos::Center).color(&colour),
        )))
        .map_err(plot_error)?;
    let (px, py) = chart.backend_coord(&(0.0, middle));
    root.draw(&Text::new(
        bar.name.clone(),
        (px - 8, py),
        style(TEXT, HPos::Right, VPos::Center),
    ))
    .map_err(plot_error)?;
    Ok(())
}

/// Accuracy (x) against DoB (y), a numbered point per run, the legend's rows naming them.
///
/// # Errors
/// No points, or the file cannot be written.
pub fn accuracy_vs_dob(path: &Path, points: &[Point]) -> anyhow::Result<()> {
    if points.is_empty() {
        bail!("{}: no runs to draw", path.display());
    }
    let labels: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{}: {}", i + 1, p.label))
        .collect();
    let widest = labels
        .iter()
        .map(|l| text_width(l, TEXT))
        .max()
        .unwrap_or(0);
    let chart_height = 440;
    let size = (
        (widest + 120).max(640),
        chart_height + 8 + LEGEND_ROW * points.len() as u32,
    );
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let (plot, below) = root.split_vertically(chart_height);
    let (x_lo, x_hi) = points.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
        (lo.min(p.accuracy), hi.max(p.accuracy))
    });
    let y_hi = points.iter().map(|p| p.dob).fold(0.0f64, f64::max);
    let pad = ((x_hi - x_lo) * 0.2).max(1.0);
    let mut chart = ChartBuilder::on(&plot)
        .caption("accuracy vs degree of bias (test)", (FONT, 18))
        .margin(16)
        .x_label_area_size(36)
        .y_label_area_size(52)
        .build_cartesian_2d(
            (x_lo - pad).max(0.0)..(x_hi + pad).min(101.0),
            0.0..(y_hi * 1.3).max(1.0),
        )
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .x_desc("accuracy (%)")
        .y_desc("DoB (%)")
        .x_label_formatter(&|v| trim_zeros(*v))
        .y_label_formatter(&|v| trim_zeros(*v))
        .draw()
        .map_err(plot_error)?;
    for (i, p) in points.iter().enumerate() {
        let colour = Palette99::pick(i).to_rgba();
        chart
            .draw_series(std::iter::once(Circle::new(
                (p.accuracy, p.dob),
                6,
                colour.filled(),
            )))
            .map_err(plot_error)?;
        let (px, py) = chart.backend_coord(&(p.accuracy, p.dob));
        plot.draw(&Text::new(
            (i + 1).to_string(),
            (px + 8, py - 8),
            style(TEXT, HPos::Left, VPos::Center),
        ))
        .map_err(plot_error)?;
    }
    let names: Vec<&str> = labels.iter().map(String::as_str).collect();
    legend(&below, &names)?;
    root.present().map_err(plot_error)
}
