//! `cargo xtask report` and `cargo xtask compare` on run folders laid out as `fineface train`
//! writes them, with the fairness report computed by `cargo xtask fairness`.

#![allow(clippy::unwrap_used)] // Test helpers panic on broken fixtures by design.

use std::path::Path;
use std::process::{Command, Output};

mod common;

use common::repo;

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap()
}

const TWO_EPOCHS: &str = "epoch,lr_backbone,lr_new,loss_cross_entropy,train_accuracy,val_accuracy,val_accuracy_concat,val_accuracy_heads,val_worst_group_accuracy,val_dob,seconds,rss_mb,peak_rss_mb,skipped_images\n\
     1,0.0002,0.002,0.61,0.70,0.72,0.72,0.72,0.55,0.06,10.5,300,310,0\n\
     2,0.0001,0.001,0.45,0.80,0.81,0.81,0.81,0.70,0.04,10.1,301,311,0\n";

/// A finished run folder whose test predictions are the demo file, with the given summary.
fn fake_run(dir: &Path, method: &str, accuracy: f64, dob: f64) {
    std::fs::create_dir_all(dir.join("test")).unwrap();
    std::fs::write(
        dir.join("run.json"),
        format!(r#"{{"name": "fairface-{method}", "method": "{method}", "dataset": "fairface", "target": "gender", "classes": ["Female", "Male"], "sensitive": ["race", "gender"], "split_sizes": [], "version": "0.1.0"}}"#),
    )
    .unwrap();
    std::fs::write(dir.join("metrics.csv"), TWO_EPOCHS).unwrap();
    std::fs::write(
        dir.join("test/summary.json"),
        format!(r#"{{"n": 1000, "accuracy": {accuracy}, "accuracy_concat": {accuracy}, "accuracy_heads": {accuracy}, "worst_group_accuracy": 0.8, "worst_group": "Black|Female", "dob": {dob}, "ser": 2.5}}"#),
    )
    .unwrap();
    std::fs::write(
        dir.join("config.toml"),
        format!("name = \"fairface-{method}\"\nmethod = \"{method}\"\n"),
    )
    .unwrap();
    let fairness = dir.join("test/fairness.json");
    let output = xtask(&[
        "fairness",
        "tests/data/demo_predictions.csv",
        "--sensitive",
        "race,gender",
        "--pos-label",
        "Male",
        "--out",
        fairness.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn report_writes_markdown_with_curves_and_subgroup_chart() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run-001");
    fake_run(&run, "fineface", 0.93, 0.02);
    report(&run);
    let md = std::fs::read_to_string(run.join("report.md")).unwrap();
    // Group names join values with `|`, escaped inside table cells.
    assert!(md.contains("| East Asian\\|Female |"), "{md}");
    assert!(md.contains("| worst group | Black\\|Female |"), "{md}");
    assert!(
        md.contains("| accuracy (final prediction, %) | 93.00 |"),
        "{md}"
    );
    assert!(md.contains("```toml\nname = \"fairface-fineface\""), "{md}");
    // Rates and losses to four places, counts and megabytes whole.
    assert!(
        md.contains("| 1 | 0.6100 | 0.7000 | 0.7200 | 0.7200 | 0.7200 | 0.5500 | 0.0600 | 10.5000 | 300 | 310 | 0 |"),
        "{md}"
    );
    let curves = std::fs::read_to_string(run.join("curves.svg")).unwrap();
    assert!(
        curves.starts_with("<svg")
            && curves.contains("cross_entropy")
            && curves.contains("val_accuracy")
    );
    let groups = std::fs::read_to_string(run.join("groups.svg")).unwrap();
    // 14 FairFace subgroups, one bar each.
    assert!(groups.contains("Southeast Asian|Male"), "{groups}");
}

#[test]
fn report_names_crops_columns_and_lists_the_runs_other_evaluations() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run-001");
    fake_run(&run, "fineface", 0.93, 0.02);
    std::fs::write(run.join("crops.png"), b"").unwrap();
    let eval = run.join("eval-utkface-all");
    std::fs::create_dir_all(&eval).unwrap();
    for file in ["summary.json", "fairness.json"] {
        std::fs::copy(run.join("test").join(file), eval.join(file)).unwrap();
    }
    report(&run);
    let md = std::fs::read_to_string(run.join("report.md")).unwrap();
    // crops.png has eight columns: the input, three maps, three crops, the combined crop.
    assert!(
        md.contains("Columns: the input; each expert's attention map")
            && md.contains("(ATTN 1-3")
            && md.contains("(CROP 1-3)")
            && md.contains("(COMBINED)"),
        "{md}"
    );
    assert!(
        md.contains("| [eval-utkface-all](<eval-utkface-all/fairness.md>) | 1000 | 0 | 93.00 | Black\\|Female | 80.00 | 2.00 | 2.500 |"),
        "{md}"
    );
    assert!(md.contains("### eval-utkface-all\n"), "{md}");
    // FineFACE's head readings are in its summary; the baseline has one prediction.
    assert!(
        md.contains("| accuracy, concat head on the image (%) | 93.00 |"),
        "{md}"
    );
    let baseline = dir.path().join("run-002");
    fake_run(&baseline, "baseline", 0.9, 0.02);
    report(&baseline);
    let md = std::fs::read_to_string(baseline.join("report.md")).unwrap();
    assert!(
        !md.contains("concat head") && !md.contains("Other evaluations"),
        "{md}"
    );
    // Nor in its curves: a baseline's concat and 4-head columns repeat its prediction.
    let curves = std::fs::read_to_string(baseline.join("curves.svg")).unwrap();
    assert!(!md.contains("val_accuracy_concat") && !curves.contains("val_accuracy_heads"));
}

#[test]
fn report_reads_an_infinite_ser_and_the_skipped_images() {
    // `test/summary.json` writes an infinite SER as `fairness.json` does: `"inf"`.
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run-001");
    fake_run(&run, "fineface", 0.93, 0.02);
    std::fs::write(
        run.join("test/summary.json"),
        r#"{"n": 1000, "accuracy": 0.93, "accuracy_concat": 0.93, "accuracy_heads": 0.93, "worst_group_accuracy": 0.8, "worst_group": "Black|Female", "dob": 0.02, "ser": "inf", "skipped": 3}"#,
    )
    .unwrap();
    report(&run);
    let md = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(
        md.contains("| SER: worst / best group error | inf |"),
        "{md}"
    );
    assert!(
        md.contains("| images skipped (could not be decoded) | 3 |"),
        "{md}"
    );
}

#[test]
fn compare_tables_runs_side_by_side_with_a_scatter() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("fineface");
    let b = dir.path().join("baseline");
    fake_run(&a, "fineface", 0.964, 0.006);
    fake_run(&b, "baseline", 0.932, 0.042);
    let out = dir.path().join("cmp");
    let output = xtask(&[
        "compare",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let table = String::from_utf8(output.stdout).unwrap();
    assert!(
        table.contains(
            "| fairface-fineface (fineface) | fineface | fairface | 96.40 | 0.60 | 2.500 |"
        ),
        "{table}"
    );
    assert!(
        table.contains("| fairface-baseline (baseline) | baseline | fairface | 93.20 | 4.20 |"),
        "{table}"
    );
    let svg = std::fs::read_to_string(out.join("compare.svg")).unwrap();
    assert!(
        svg.contains("fairface-fineface") && svg.contains("<circle"),
        "{svg}"
    );
    assert!(
        std::fs::read_to_string(out.join("compare.md"))
            .unwrap()
            .contains("compare.svg")
    );
}

#[test]
fn report_on_a_broken_history_names_the_file_line_and_cause() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run-001");
    fake_run(&run, "baseline", 0.9, 0.02);
    let (header, rows) = TWO_EPOCHS.split_once('\n').unwrap();
    let first = rows.lines().next().unwrap();
    for (metrics, at, cause) in [
        (
            format!("{header}\n{first}\n{first}\n"),
            "metrics.csv:3",
            "epoch 1 where epoch 2 was due",
        ),
        (
            TWO_EPOCHS.replacen("0.61", "NaN", 1),
            "metrics.csv:2",
            "not a finite number",
        ),
        (format!("{header}\n"), "metrics.csv:2", "no epochs"),
    ] {
        std::fs::write(run.join("metrics.csv"), metrics).unwrap();
        let output = xtask(&["report", run.to_str().unwrap()]);
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(at) && stderr.contains(cause), "{stderr}");
    }
}

#[test]
fn report_on_a_folder_that_is_not_a_run_names_the_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let output = xtask(&["report", dir.path().to_str().unwrap()]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("run.json"), "{stderr}");
}

/// A `<text>` element of an SVG plotters wrote.
#[derive(Debug)]
struct SvgText {
    x: f64,
    y: f64,
    anchor: String,
    dy: String,
    size: f64,
    /// Turned a quarter (a y axis's description): its extent is vertical.
    rotated: bool,
    text: String,
}

fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    Some(&tag[start..start + tag[start..].find('"')?])
}

fn svg_texts(svg: &str) -> Vec<SvgText> {
    svg.split("<text ")
        .skip(1)
        .map(|rest| {
            let (tag, body) = rest.split_once('>').unwrap();
            let tag = &format!(" {tag}");
            let number = |name| attribute(tag, name).unwrap_or("0").parse::<f64>().unwrap();
            SvgText {
                x: number("x"),
                y: number("y"),
                anchor: attribute(tag, "text-anchor").unwrap_or("start").to_owned(),
                dy: attribute(tag, "dy").unwrap_or("").to_owned(),
                size: number("font-size"),
                rotated: tag.contains("rotate("),
                text: body.split("</text>").next().unwrap().trim().to_owned(),
            }
        })
        .collect()
}

/// The picture's width from `<svg width="...">`.
fn svg_width(svg: &str) -> f64 {
    attribute(svg, "width").unwrap().parse().unwrap()
}

/// The numeric tick labels under x axes (plotters: centred, hanging below the axis).
fn x_ticks(svg: &str) -> Vec<String> {
    svg_texts(svg)
        .into_iter()
        .filter(|t| t.anchor == "middle" && t.dy == "0.76em" && t.text.parse::<f64>().is_ok())
        .map(|t| t.text)
        .collect()
}

fn report(run: &Path) {
    let output = xtask(&["report", run.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn curves_after_one_epoch_show_its_points_on_whole_epoch_ticks() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run-001");
    fake_run(&run, "baseline", 0.93, 0.02);
    let one_epoch: String = TWO_EPOCHS
        .lines()
        .take(2)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(run.join("metrics.csv"), one_epoch).unwrap();
    report(&run);
    let svg = std::fs::read_to_string(run.join("curves.svg")).unwrap();
    // A baseline's one loss and three accuracies (its head readings would repeat
    // val_accuracy): a point each in the plots, a swatch each in the legends.
    assert_eq!(svg.matches("<circle").count(), 2 * 4, "{svg}");
    // Ticks at whole epochs: just `1` under each panel, no `1.2` or `1.5`.
    assert_eq!(x_ticks(&svg), ["1", "1"], "{svg}");
    // The accuracy panel spans 0-100 %.
    let labels: Vec<String> = svg_texts(&svg).into_iter().map(|t| t.text).collect();
    assert!(
        labels.iter().any(|t| t == "100") && labels.iter().any(|t| t == "0"),
        "{labels:?}"
    );
    // Legends name the losses without the column's prefix, and no legend covers a line:
    // every name lies below the plots.
    let legend: Vec<SvgText> = svg_texts(&svg)
        .into_iter()
        .filter(|t| t.text == "cross_entropy" || t.text == "val_worst_group_accuracy")
        .collect();
    assert_eq!(legend.len(), 2, "{svg}");
    assert!(legend.iter().all(|t| t.y > 340.0), "{legend:?}");
}

#[test]
fn groups_start_at_zero_with_a_row_a_group_and_nothing_cut() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run-001");
    fake_run(&run, "fineface", 0.93, 0.02);
    report(&run);
    let svg = std::fs::read_to_string(run.join("groups.svg")).unwrap();
    let ticks = x_ticks(&svg);
    assert_eq!(ticks.first().map(String::as_str), Some("0"), "{ticks:?}");
    assert_eq!(ticks.last().map(String::as_str), Some("100"), "{ticks:?}");
    // 14 FairFace subgroups: 14 bars, 14 names, each on its own row, no empty slot.
    assert_eq!(svg.matches("fill=\"#466EB4\"").count(), 14, "{svg}");
    let texts = svg_texts(&svg);
    let mut rows: Vec<f64> = texts
        .iter()
        .filter(|t| t.text.contains('|'))
        .map(|t| t.y)
        .collect();
    assert_eq!(rows.len(), 14, "{texts:?}");
    rows.sort_by(f64::total_cmp);
    let gaps: Vec<f64> = rows.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.iter()
            .all(|&g| g >= 20.0 && (g - gaps[0]).abs() <= 1.0),
        "{rows:?}"
    );
    // Each bar says its accuracy and size: Black|Female is 77 of 90.
    assert!(
        texts.iter().any(|t| t.text == "85.6 % (n = 90)"),
        "{texts:?}"
    );
    assert_labels_inside(&svg);
    // A run near 100 % (FairFace gender reaches 96) keeps its overall label inside too.
    let mut csv = String::from("y_true,y_pred,group\n");
    for (group, errors) in [("A", 1), ("B", 0)] {
        for i in 0..100 {
            let predicted = if i < errors { 0 } else { 1 };
            csv.push_str(&format!("1,{predicted},{group}\n"));
        }
    }
    let predictions = dir.path().join("high.csv");
    std::fs::write(&predictions, csv).unwrap();
    let fairness = run.join("test/fairness.json");
    let output = xtask(&[
        "fairness",
        predictions.to_str().unwrap(),
        "--out",
        fairness.to_str().unwrap(),
    ]);
    assert!(output.status.success());
    report(&run);
    let svg = std::fs::read_to_string(run.join("groups.svg")).unwrap();
    assert!(svg.contains("overall 99.5 %"), "{svg}");
    assert_labels_inside(&svg);
}

/// Every label's estimated extent (0.62 em a character) lies inside the picture.
fn assert_labels_inside(svg: &str) {
    let width = svg_width(svg);
    for t in svg_texts(svg).into_iter().filter(|t| !t.rotated) {
        let extent = 0.62 * t.size * t.text.chars().count() as f64;
        let (left, right) = match t.anchor.as_str() {
            "end" => (t.x - extent, t.x),
            "middle" => (t.x - extent / 2.0, t.x + extent / 2.0),
            _ => (t.x, t.x + extent),
        };
        assert!(
            left >= 0.0 && right <= width,
            "`{}` spans {left:.0}..{right:.0} of {width}",
            t.text
        );
    }
}

#[test]
fn compare_keeps_every_run_label_inside_the_picture() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir
        .path()
        .join("a-run-folder-with-a-long-descriptive-name-seed-0");
    let b = dir
        .path()
        .join("another-run-folder-with-a-long-name-seed-1");
    fake_run(&a, "fineface", 0.991, 0.006);
    fake_run(&b, "baseline", 0.932, 0.042);
    let out = dir.path().join("cmp");
    let output = xtask(&[
        "compare",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success());
    let svg = std::fs::read_to_string(out.join("compare.svg")).unwrap();
    assert_eq!(svg.matches("<circle").count(), 2 * 2, "{svg}");
    let texts: Vec<String> = svg_texts(&svg).into_iter().map(|t| t.text).collect();
    assert!(
        texts.contains(
            &"1: fairface-fineface (a-run-folder-with-a-long-descriptive-name-seed-0)".to_owned()
        ),
        "{texts:?}"
    );
    assert_labels_inside(&svg);
}

/// Names from the user's files (the experiment, its target, classes and sensitive columns)
/// shown in report.md as written: markdown and HTML in them never rendered.
#[test]
fn report_shows_names_with_markup_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run-001");
    fake_run(&run, "fineface", 0.93, 0.02);
    std::fs::write(
        run.join("run.json"),
        r#"{"name": "_n_[l](u)<b>", "method": "fineface", "dataset": "manifest", "target": "*sex*", "classes": ["![f](u)", "_m_"], "sensitive": ["`race`"], "split_sizes": [], "version": "0.1.0"}"#,
    )
    .unwrap();
    report(&run);
    let md = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(
        md.starts_with("# \\_n\\_\\[l\\](u)&lt;b&gt; (fineface) on manifest\n"),
        "{md}"
    );
    assert!(
        md.contains("Target \\*sex\\* (classes !\\[f\\](u), \\_m\\_), groups by \\`race\\`."),
        "{md}"
    );
}
