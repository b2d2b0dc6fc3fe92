//! The layout of the paper's Table 2 (FairFace gender per race x gender subgroup) and
//! Table 3 (cross-dataset), with the published numbers beside ours.

use std::fmt::Write as _;

use fineface_data::DatasetConfig;

use crate::plan::StudyPlan;
use crate::summary::StudySummary;
use fineface_fair::markdown_cell;

/// One published row: accuracy and DoB in %, max/min as a ratio.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaperRow {
    /// Overall accuracy (%).
    pub accuracy: f64,
    /// Degree of Bias (std of subgroup accuracy, %).
    pub dob: f64,
    /// Max/min subgroup accuracy, where published.
    pub max_min: Option<f64>,
}

/// The numbers FineFACE (Manzoor & Rattani, ICPR 2024) reports for a ResNet-50 trained on
/// FairFace gender, as the project's method spec (`shared/docs/FINEFACE.md`, "Reported
/// results") transcribes them from a secondary source, not yet checked against the PDF. The
/// per-subgroup accuracies are not transcribed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaperResults {
    /// The plain ResNet-50 on FairFace (Table 2).
    pub baseline: PaperRow,
    /// FineFACE on FairFace (Table 2).
    pub fineface: PaperRow,
    /// Trained on FairFace, evaluated on another dataset (Table 3): the dataset kind, the
    /// baseline's row and FineFACE's.
    pub cross: [(&'static str, PaperRow, PaperRow); 3],
}

const fn row(accuracy: f64, dob: f64, max_min: Option<f64>) -> PaperRow {
    PaperRow {
        accuracy,
        dob,
        max_min,
    }
}

impl PaperResults {
    /// FairFace gender, race x gender (14 subgroups).
    pub const FAIRFACE_GENDER: PaperResults = PaperResults {
        baseline: row(93.2, 4.2, Some(1.18)),
        fineface: row(96.4, 0.6, Some(1.02)),
        cross: [
            ("utkface", row(81.9, 11.1, None), row(88.5, 5.0, None)),
            ("lfwa", row(95.3, 7.7, None), row(98.6, 1.9, None)),
            ("celeba", row(93.2, 2.2, None), row(98.0, 1.3, None)),
        ],
    };

    /// The published row of a study method (`baseline`, `fineface`), if any.
    fn method(&self, name: &str) -> Option<PaperRow> {
        match name {
            "baseline" => Some(self.baseline),
            "fineface" => Some(self.fineface),
            _ => None,
        }
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{:.1}", 100.0 * v))
}

fn published(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.digits$}"))
}

/// Markdown of the paper's two tables for a study: Table 2 with a row per subgroup (mean
/// accuracy over seeds), overall accuracy, DoB and max/min, one column per method ours and
/// published; Table 3 with accuracy and DoB per cross-dataset evaluation, ours beside the
/// published numbers for the same dataset kind. The published columns are filled only for
/// a study trained on FairFace with the gender target (what the paper reports); "–" marks
/// what the paper does not report or what is not comparable.
pub fn paper_tables(summary: &StudySummary, plan: &StudyPlan) -> String {
    let data = plan.methods.first().map(|m| &m.config.data);
    let layout = PaperLayout {
        summary,
        comparable: matches!(data, Some(DatasetConfig::FairFace(f)) if f.target == "gender"),
        paper: PaperResults::FAIRFACE_GENDER,
        dataset: data.map_or("?", |d| d.kind().name()),
    };
    let mut out = String::new();
    layout.table2(&mut out);
    layout.table3(&mut out);
    out
}

/// What both tables need: the study, the published numbers and whether they compare.
struct PaperLayout<'a> {
    summary: &'a StudySummary,
    /// Trained on FairFace gender, as the paper: the published columns are filled.
    comparable: bool,
    paper: PaperResults,
    dataset: &'a str,
}

impl PaperLayout<'_> {
    /// The published value where comparable, "–" elsewhere.
    fn shown(&self, value: Option<String>) -> String {
        match value {
            Some(v) if self.comparable => v,
            _ => "–".to_owned(),
        }
    }

    /// A table's header and rule: `first`, then for each of `metrics` a column per method
    /// (ours), each followed by the published one where the paper has the method.
    fn header(&self, first: &str, metrics: &[&str]) -> (String, String) {
        let mut header = format!("| {first} |");
        let mut rule = String::from("|---|");
        for metric in metrics {
            let metric = if metric.is_empty() {
                String::new()
            } else {
                format!(" {metric}")
            };
            for name in &self.summary.method_order {
                let _ = write!(header, " {name}{metric} (ours) |");
                rule.push_str("---:|");
                if self.paper.method(name).is_some() {
                    let _ = write!(header, " {name}{metric} (paper) |");
                    rule.push_str("---:|");
                }
            }
        }
        (header, rule)
    }

    /// Table 2's title and where its published numbers come from.
    fn table2_intro(&self, out: &mut String) {
        let (dataset, comparable) = (self.dataset, self.comparable);
        let n = self.summary.seeds.len();
        let _ = writeln!(
            out,
            "## Paper layout, Table 2: {} test split per subgroup (ours: mean of {n} seeds)\n",
            dataset
        );
        let _ = writeln!(
            out,
            "Published: FineFACE (Manzoor & Rattani, ICPR 2024), ResNet-50 on FairFace gender, \
         as the project's method spec (`shared/docs/FINEFACE.md`) transcribes \
         it from a secondary source; per-subgroup cells not transcribed. Accuracy and DoB in %.\n"
        );
        if !comparable {
            let _ = writeln!(
                out,
                "This study does not train on FairFace gender, so the published columns are left \
             empty: only the layout is the paper's.\n"
            );
        }
    }

    /// Table 2: a row per subgroup (mean accuracy over seeds), overall accuracy, DoB and
    /// max/min; a column per method, ours and published.
    fn table2(&self, out: &mut String) {
        let (summary, paper) = (self.summary, &self.paper);
        self.table2_intro(out);
        let (header, rule) = self.header("subgroup", &[""]);
        let _ = writeln!(out, "{header}\n{rule}");
        let mut groups: Vec<&String> = summary
            .methods
            .values()
            .flat_map(|m| m.group_accuracy_mean.keys())
            .collect();
        groups.sort();
        groups.dedup();
        type Cell<'a> = Box<dyn Fn(&str) -> (String, Option<String>) + 'a>;
        let mut rows: Vec<(String, Cell<'_>)> = groups
            .iter()
            .map(|&group| {
                let cell: Cell<'_> = Box::new(move |name: &str| {
                    let ours = pct(summary.methods[name]
                        .group_accuracy_mean
                        .get(group)
                        .copied());
                    (ours, Some("–".to_owned()))
                });
                (markdown_cell(group), cell)
            })
            .collect();
        rows.push((
            "**overall**".to_owned(),
            Box::new(|name: &str| {
                (
                    pct(summary.methods[name].mean.accuracy),
                    paper.method(name).map(|p| published(Some(p.accuracy), 1)),
                )
            }),
        ));
        rows.push((
            "**DoB**".to_owned(),
            Box::new(|name: &str| {
                (
                    pct(summary.methods[name].mean.dob),
                    paper.method(name).map(|p| published(Some(p.dob), 1)),
                )
            }),
        ));
        rows.push((
            "**max/min**".to_owned(),
            Box::new(|name: &str| {
                (
                    published(summary.methods[name].mean.max_min_ratio, 2),
                    paper.method(name).map(|p| published(p.max_min, 2)),
                )
            }),
        ));
        for (label, cell) in &rows {
            let mut line = format!("| {label} |");
            for name in &summary.method_order {
                let (ours, theirs) = cell(name);
                let _ = write!(line, " {ours} |");
                if paper.method(name).is_some() {
                    let _ = write!(line, " {} |", self.shown(theirs));
                }
            }
            let _ = writeln!(out, "{line}");
        }
    }

    /// Table 3: accuracy and DoB per cross-dataset evaluation, ours beside the published
    /// numbers for the same dataset kind.
    fn table3(&self, out: &mut String) {
        let (summary, paper, dataset) = (self.summary, &self.paper, self.dataset);
        let _ = writeln!(
            out,
            "\n## Paper layout, Table 3: cross-dataset (trained on {dataset}, evaluated on all \
         images of another dataset)\n"
        );
        let (header, rule) = self.header("dataset", &["accuracy", "DoB"]);
        let _ = writeln!(out, "{header}\n{rule}");
        if summary.evals.is_empty() {
            let _ = writeln!(
                out,
                "| (no `--eval` given) |{}",
                " – |".repeat(rule.matches("---:").count())
            );
        }
        for (eval_name, eval) in &summary.evals {
            let published_cross = paper
                .cross
                .iter()
                .find(|(kind, _, _)| *kind == eval.dataset)
                .map(|(_, b, f)| (*b, *f));
            let mut line = format!("| {eval_name} ({}) |", eval.dataset);
            for accuracy in [true, false] {
                for name in &summary.method_order {
                    let ours = summary.methods[name].evals.get(eval_name).and_then(|s| {
                        if accuracy {
                            s.mean.accuracy
                        } else {
                            s.mean.dob
                        }
                    });
                    let _ = write!(line, " {} |", pct(ours));
                    if paper.method(name).is_some() {
                        let theirs = published_cross.map(|(b, f)| {
                            let row = if name == "baseline" { b } else { f };
                            if accuracy { row.accuracy } else { row.dob }
                        });
                        let _ = write!(
                            line,
                            " {} |",
                            self.shown(theirs.map(|v| published(Some(v), 1)))
                        );
                    }
                }
            }
            let _ = writeln!(out, "{line}");
        }
    }
}
