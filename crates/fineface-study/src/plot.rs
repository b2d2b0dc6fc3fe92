//! `study.svg`: accuracy against DoB, one point per run, each method's mean with its
//! 95 % intervals as error bars.

use std::path::Path;

use std::ops::Range;

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::error::{Result, StudyError};
use crate::summary::{MethodSummary, StudySummary};

/// Writes the scatter of the study's test numbers to `path`.
///
/// # Errors
/// [`StudyError::Io`] when the file cannot be written.
pub fn write_study_svg(path: &Path, summary: &StudySummary) -> Result<()> {
    draw(path, summary).map_err(|message| {
        StudyError::io(
            path,
            std::io::Error::other(format!("plotting failed: {message}")),
        )
    })
}

/// The chart's axes, in %: accuracy (x) over the runs and the accuracy intervals, with
/// some room; DoB (y) from 0 over the runs and the DoB intervals.
fn axes(summary: &StudySummary) -> (Range<f64>, Range<f64>) {
    let mut xs: Vec<f64> = Vec::new();
    let mut ys: Vec<f64> = Vec::new();
    for method in summary.methods.values() {
        for run in &method.runs {
            xs.push(100.0 * run.test.accuracy);
            ys.push(100.0 * run.test.dob);
        }
        xs.extend(method.ci95.accuracy.iter().flatten().map(|v| 100.0 * v));
        ys.extend(method.ci95.dob.iter().flatten().map(|v| 100.0 * v));
    }
    let x_lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let x_hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let y_hi = ys.iter().copied().fold(0.0f64, f64::max);
    let (x_lo, x_hi) = if x_lo.is_finite() {
        (x_lo, x_hi)
    } else {
        (0.0, 100.0)
    };
    let pad = ((x_hi - x_lo) * 0.15).max(0.5);
    (
        (x_lo - pad)..(x_hi + pad).min(100.5),
        0.0..(y_hi * 1.25).max(1.0),
    )
}

/// The error of a plotters call, as text.
fn err(e: &dyn std::fmt::Debug) -> String {
    format!("{e:?}")
}

fn draw(path: &Path, summary: &StudySummary) -> std::result::Result<(), String> {
    let (x, y) = axes(summary);
    let root = SVGBackend::new(path, (720, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "{}: accuracy vs degree of bias (test, {} seeds)",
                summary.experiment,
                summary.seeds.len()
            ),
            ("sans-serif", 18),
        )
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(52)
        .build_cartesian_2d(x, y)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("accuracy (%)")
        .y_desc("DoB: std of group accuracy (%)")
        .draw()
        .map_err(|e| err(&e))?;
    for (i, name) in summary.method_order.iter().enumerate() {
        draw_method(
            &mut chart,
            name,
            &summary.methods[name],
            Palette99::pick(i).to_rgba(),
        )?;
    }
    chart
        .configure_series_labels()
        // Low accuracy with high DoB: the corner runs are least likely to be in.
        .position(SeriesLabelPosition::UpperLeft)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.9))
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))
}

/// One method: its runs as points, its mean as a cross with the 95 % intervals as bars.
fn draw_method(
    chart: &mut ChartContext<'_, SVGBackend<'_>, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    name: &str,
    method: &MethodSummary,
    colour: RGBAColor,
) -> std::result::Result<(), String> {
    let runs: Vec<(f64, f64)> = method
        .runs
        .iter()
        .map(|r| (100.0 * r.test.accuracy, 100.0 * r.test.dob))
        .collect();
    chart
        .draw_series(
            runs.iter()
                .map(|&p| Circle::new(p, 4, colour.mix(0.6).filled())),
        )
        .map_err(|e| err(&e))?
        .label(format!("{name} (runs; mean ± 95 % CI)"))
        .legend(move |(x, y)| Circle::new((x + 8, y), 4, colour.filled()));
    let (Some(acc), Some(dob)) = (method.mean.accuracy, method.mean.dob) else {
        return Ok(());
    };
    let centre = (100.0 * acc, 100.0 * dob);
    let mut lines = Vec::new();
    if let Some([low, high]) = method.ci95.accuracy {
        lines.push(vec![(100.0 * low, centre.1), (100.0 * high, centre.1)]);
    }
    if let Some([low, high]) = method.ci95.dob {
        lines.push(vec![(centre.0, 100.0 * low), (centre.0, 100.0 * high)]);
    }
    chart
        .draw_series(
            lines
                .into_iter()
                .map(|line| PathElement::new(line, colour.stroke_width(2))),
        )
        .map_err(|e| err(&e))?;
    chart
        .draw_series(std::iter::once(Cross::new(
            centre,
            7,
            colour.stroke_width(3),
        )))
        .map_err(|e| err(&e))?;
    Ok(())
}
