//! Renderings of a [`SubgroupReport`]: JSON, a long-format CSV and a markdown summary.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use crate::error::Result;
use crate::group::GroupMetrics;
use crate::report::SubgroupReport;

/// Skipped items the markdown lists one by one; the JSON has all.
const MAX_SKIPPED_LISTED: usize = 20;

impl SubgroupReport {
    /// The schema's JSON, pretty-printed.
    ///
    /// # Errors
    /// [`FairError::Json`](crate::FairError::Json) when serde_json refuses a value (it has
    /// not for any report [`audit`](crate::audit) builds: every key is a string).
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// A long-format CSV, one value per line: `section,group,metric,value`.
    ///
    /// `section` is `overall`, `groups`, `aggregates`, `by_feature.<f>.groups`,
    /// `by_feature.<f>.aggregates`, `per_class.<c>.overall|groups|aggregates`,
    /// `empty_intersections` or `bootstrap.*`; nested aggregates (the `strict` block) appear
    /// as `strict.<metric>`; lists are `;`-joined; undefined values are empty.
    pub fn to_csv(&self) -> String {
        let mut rows = CsvRows::default();
        rows.metrics("overall", "", &self.overall);
        rows.groups("groups", &self.groups);
        rows.metrics("aggregates", "", &self.aggregates);
        for (feature, report) in &self.by_feature {
            rows.groups(&format!("by_feature.{feature}.groups"), &report.groups);
            rows.metrics(
                &format!("by_feature.{feature}.aggregates"),
                "",
                &report.aggregates,
            );
        }
        for name in &self.empty_intersections {
            rows.push("empty_intersections", name, "n", "0");
        }
        for (class, report) in &self.per_class {
            rows.metrics(&format!("per_class.{class}.overall"), "", &report.overall);
            rows.groups(&format!("per_class.{class}.groups"), &report.groups);
            rows.metrics(
                &format!("per_class.{class}.aggregates"),
                "",
                &report.aggregates,
            );
        }
        if let Some(bootstrap) = &self.bootstrap {
            rows.metrics(
                "bootstrap.overall_accuracy",
                "",
                &bootstrap.overall_accuracy,
            );
            rows.groups("bootstrap.group_accuracy", &bootstrap.group_accuracy);
            rows.groups("bootstrap.aggregates", &bootstrap.aggregates);
        }
        rows.finish()
    }

    /// A markdown summary: overall, the subgroup table, the headline aggregates, each
    /// feature's marginal groups, empty intersections and the per-class parity.
    pub fn to_markdown(&self) -> String {
        let mut md = String::new();
        let features = markdown_inline(&self.meta.grouping.features.join(" x "));
        self.markdown_header(&mut md, &features);
        self.markdown_subgroups(&mut md, &features);
        self.markdown_aggregates(&mut md);
        self.markdown_by_feature(&mut md);
        self.markdown_empty_intersections(&mut md);
        self.markdown_per_class(&mut md);
        md
    }

    /// Whether the target is grouped by itself (gender by gender): each group holds one
    /// class, so parity between groups says nothing.
    fn one_class_per_group(&self) -> bool {
        self.aggregates.n_groups >= 2 && self.groups.values().all(|g| g.n_pos == 0 || g.n_neg == 0)
    }

    /// The title and the input's facts: rows, classes, what was dropped or skipped.
    fn markdown_header(&self, md: &mut String, features: &str) {
        let _ = writeln!(md, "# Fairness report\n");
        if let Some(input) = &self.meta.input {
            let _ = writeln!(md, "- input: {}", code(input));
        }
        let _ = writeln!(
            md,
            "- rows: {}, classes: {}, positive label: {}",
            self.meta.n_rows,
            markdown_inline(&self.overall.classes.join(", ")),
            code(&self.meta.pos_label)
        );
        if self.meta.n_dropped_missing > 0 {
            let _ = writeln!(
                md,
                "- dropped: {} row(s) with a missing sensitive value",
                self.meta.n_dropped_missing
            );
        }
        if !self.meta.skipped.is_empty() {
            let _ = writeln!(
                md,
                "- skipped before scoring: {} (the rows above are the scored ones)",
                self.meta.skipped.len()
            );
            for item in self.meta.skipped.iter().take(MAX_SKIPPED_LISTED) {
                let _ = writeln!(
                    md,
                    "  - {}: {}",
                    code(&item.file),
                    markdown_inline(&item.reason)
                );
            }
            if self.meta.skipped.len() > MAX_SKIPPED_LISTED {
                let _ = writeln!(
                    md,
                    "  - ... {} more in fairness.json",
                    self.meta.skipped.len() - MAX_SKIPPED_LISTED
                );
            }
        }
        let _ = writeln!(
            md,
            "- groups: {features} ({} non-empty)\n",
            self.aggregates.n_groups
        );
    }

    /// The subgroup table, with the bootstrap interval where there is one.
    fn markdown_subgroups(&self, md: &mut String, features: &str) {
        let ci = self.bootstrap.as_ref().map(|b| {
            (
                format!("{:.0}% CI", b.confidence * 100.0),
                &b.group_accuracy,
                &b.overall_accuracy,
            )
        });
        let _ = writeln!(md, "## Subgroups ({features})\n");
        let ci_header = ci
            .as_ref()
            .map_or(String::new(), |(h, _, _)| format!(" {h} |"));
        let _ = writeln!(
            md,
            "| group | n | accuracy |{ci_header} error rate | selection rate | TPR | FPR |"
        );
        let _ = writeln!(
            md,
            "|---|---:|---:|{}---:|---:|---:|---:|",
            if ci.is_some() { "---:|" } else { "" }
        );
        // `cell` is markdown already: a group's name escaped, or the bold overall label.
        let group_row =
            |md: &mut String, cell: &str, m: &GroupMetrics, interval: Option<&crate::Interval>| {
                let ci_cell = interval.map_or(String::new(), |i| {
                    format!(" {} - {} |", fmt(i.low), fmt(i.high))
                });
                let _ = writeln!(
                    md,
                    "| {} | {} | {} |{ci_cell} {} | {} | {} | {} |",
                    cell,
                    m.n,
                    fmt(Some(m.accuracy)),
                    fmt(Some(m.error_rate)),
                    fmt(Some(m.selection_rate)),
                    fmt(m.tpr),
                    fmt(m.fpr)
                );
            };
        for (name, m) in &self.groups {
            group_row(
                md,
                &markdown_cell(name),
                m,
                ci.as_ref().and_then(|(_, g, _)| g.get(name)),
            );
        }
        group_row(
            md,
            "**overall**",
            &self.overall.metrics,
            ci.as_ref().map(|(_, _, o)| *o),
        );
    }

    /// The headline aggregates: worst and best groups, DoB, SER, parity.
    fn markdown_aggregates(&self, md: &mut String) {
        let a = &self.aggregates;
        let p = &a.parity;
        let _ = writeln!(md, "\n## Aggregates\n");
        let _ = writeln!(md, "| metric | value |\n|---|---:|");
        let n = a.n_groups;
        let (tpr, fpr) = (
            ("TPR", p.strict.n_groups_tpr_defined),
            ("FPR", p.strict.n_groups_fpr_defined),
        );
        let between = |value: String| between_groups_cell(value, n, &[]);
        let one_class = self.one_class_per_group();
        let rows: [(&str, String); 14] = [
            ("worst group(s)", markdown_cell(&a.worst_groups.join(", "))),
            ("best group(s)", markdown_cell(&a.best_groups.join(", "))),
            (
                "min / mean / max group accuracy",
                format!(
                    "{} / {} / {}",
                    fmt(Some(a.min_group_accuracy)),
                    fmt(Some(a.mean_group_accuracy)),
                    fmt(Some(a.max_group_accuracy))
                ),
            ),
            (
                "DoB x100 (std of group accuracy, ddof 0)",
                between(fmt(Some(a.dob_std_ddof0 * 100.0))),
            ),
            (
                "DoB x100 (ddof 1)",
                between(fmt(a.dob_std_ddof1.map(|d| d * 100.0))),
            ),
            (
                "SER (max error / min error)",
                between(a.ser.map_or_else(
                    || "undefined (no group makes an error: 0 / 0)".to_owned(),
                    |ser| fmt(Some(ser)),
                )),
            ),
            (
                "max/min accuracy ratio",
                between(fmt(a.max_min_accuracy_ratio)),
            ),
            (
                "accuracy difference (max - min)",
                between(fmt(Some(a.accuracy_difference))),
            ),
            (
                "demographic parity difference",
                one_class_note(
                    between(fmt(Some(p.demographic_parity_difference))),
                    one_class,
                ),
            ),
            (
                "demographic parity ratio",
                one_class_note(between(fmt(p.demographic_parity_ratio)), one_class),
            ),
            (
                "equal opportunity difference",
                between_groups_cell(fmt(Some(p.equal_opportunity_difference)), n, &[tpr]),
            ),
            (
                "equalized odds difference",
                between_groups_cell(fmt(Some(p.equalized_odds_difference)), n, &[tpr, fpr]),
            ),
            (
                "equalized odds ratio",
                between_groups_cell(fmt(p.equalized_odds_ratio), n, &[tpr, fpr]),
            ),
            (
                "equalized odds difference (strict)",
                strict_cell(p.strict.equalized_odds_difference, n, &[tpr, fpr]),
            ),
        ];
        for (name, value) in rows {
            let _ = writeln!(md, "| {name} | {value} |");
        }
    }

    /// Each feature's marginal groups, when there are several features.
    fn markdown_by_feature(&self, md: &mut String) {
        if self.by_feature.len() > 1 {
            for (feature, report) in &self.by_feature {
                let _ = writeln!(md, "\n## By {}\n", markdown_inline(feature));
                let _ = writeln!(
                    md,
                    "| {} | n | accuracy | selection rate | TPR | FPR |\n|---|---:|---:|---:|---:|---:|",
                    markdown_cell(feature)
                );
                for (name, m) in &report.groups {
                    let _ = writeln!(
                        md,
                        "| {} | {} | {} | {} | {} | {} |",
                        markdown_cell(name),
                        m.n,
                        fmt(Some(m.accuracy)),
                        fmt(Some(m.selection_rate)),
                        fmt(m.tpr),
                        fmt(m.fpr)
                    );
                }
                let a = &report.aggregates;
                let _ = writeln!(
                    md,
                    "\nDoB x100 {}, SER {}, max/min {}, worst: {}",
                    fmt(Some(a.dob_std_ddof0 * 100.0)),
                    fmt(a.ser),
                    fmt(a.max_min_accuracy_ratio),
                    markdown_inline(&a.worst_groups.join(", "))
                );
            }
        }
    }

    /// The intersections no row falls in.
    fn markdown_empty_intersections(&self, md: &mut String) {
        if !self.empty_intersections.is_empty() {
            let _ = writeln!(md, "\n## Empty intersections (no rows)\n");
            for name in &self.empty_intersections {
                let _ = writeln!(md, "- {}", markdown_inline(name));
            }
        }
    }

    /// Each class's parity, one-vs-rest.
    fn markdown_per_class(&self, md: &mut String) {
        let n = self.aggregates.n_groups;
        let one_class = self.one_class_per_group();
        let _ = writeln!(md, "\n## Per class (one-vs-rest)\n");
        let _ = writeln!(
            md,
            "| class | demographic parity difference | equal opportunity difference | equalized odds difference | equalized odds difference (strict) |\n|---|---:|---:|---:|---:|"
        );
        for (class, report) in &self.per_class {
            let p = &report.aggregates;
            let (tpr, fpr) = (
                ("TPR", p.strict.n_groups_tpr_defined),
                ("FPR", p.strict.n_groups_fpr_defined),
            );
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                markdown_cell(class),
                one_class_note(
                    between_groups_cell(fmt(Some(p.demographic_parity_difference)), n, &[]),
                    one_class
                ),
                between_groups_cell(fmt(Some(p.equal_opportunity_difference)), n, &[tpr]),
                between_groups_cell(fmt(Some(p.equalized_odds_difference)), n, &[tpr, fpr]),
                strict_cell(p.strict.equalized_odds_difference, n, &[tpr, fpr])
            );
        }
    }
}

/// User text (a group, a label, a file name) in a markdown line, shown as written, never
/// rendered: `<`, `>` and `&` as HTML entities (a group named `<img src=...>`), the
/// characters that start inline markup (`` ` `` `*` `_` `~` `[` `]` `\\`) and a leading block
/// marker (`#`, `-`, `+`, `1.`) escaped with a backslash (CommonMark 2.4), and line breaks,
/// which would end the line (and a table with it), as `<br>`.
pub fn markdown_inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    for (i, c) in text.chars().enumerate() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '~' | '[' | ']' => {
                out.push('\\');
                out.push(c);
            }
            '#' | '-' | '+' | '=' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            '.' | ')' if i == digits && digits > 0 => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    one_line(&out)
}

/// User text in a markdown table cell: [`markdown_inline`], and the `|` of compound group
/// names, which would otherwise split the cell, escaped.
pub fn markdown_cell(text: &str) -> String {
    markdown_inline(text).replace('|', "\\|")
}

/// Line breaks as `<br>`.
fn one_line(text: &str) -> String {
    text.replace("\r\n", "<br>").replace(['\n', '\r'], "<br>")
}

/// User text as a code span (CommonMark 6.1): fenced by one more backtick than its longest
/// run of them, spaced from the fence where it holds any. Nothing inside a code span is
/// markup, so no entity is written; line breaks show as `<br>`.
fn code(text: &str) -> String {
    let text = one_line(text);
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    if longest == 0 {
        return format!("`{text}`");
    }
    let fence = "`".repeat(longest + 1);
    format!("{fence} {text} {fence}")
}

/// Four decimals; `-` for undefined, `inf` for infinity.
fn fmt(value: Option<f64>) -> String {
    match value {
        None => "-".to_owned(),
        Some(v) if v.is_infinite() => if v > 0.0 { "inf" } else { "-inf" }.to_owned(),
        Some(v) => format!("{v:.4}"),
    }
}

/// The long-format CSV, quoted by the `csv` crate's writer.
struct CsvRows {
    writer: csv::Writer<Vec<u8>>,
    empty: bool,
}

impl Default for CsvRows {
    fn default() -> Self {
        Self {
            writer: csv::Writer::from_writer(Vec::new()),
            empty: true,
        }
    }
}

impl CsvRows {
    fn push(&mut self, section: &str, group: &str, metric: &str, value: &str) {
        // Writing into memory cannot fail.
        if self.empty {
            let _ = self
                .writer
                .write_record(["section", "group", "metric", "value"]);
            self.empty = false;
        }
        let _ = self.writer.write_record([section, group, metric, value]);
    }

    /// The CSV text.
    fn finish(self) -> String {
        let bytes = self.writer.into_inner().unwrap_or_default();
        String::from_utf8(bytes).unwrap_or_default()
    }

    /// Every number of one typed metrics struct as a row, by the names its JSON gives them.
    fn metrics<T: serde::Serialize>(&mut self, section: &str, group: &str, metrics: &T) {
        // Serialising plain structs of numbers and strings into memory cannot fail.
        let value = serde_json::to_value(metrics).unwrap_or(Value::Null);
        self.object(section, group, &value, "");
    }

    /// Each group's metrics, the group's name in the `group` column.
    fn groups<T: serde::Serialize>(&mut self, section: &str, groups: &BTreeMap<String, T>) {
        for (name, metrics) in groups {
            self.metrics(section, name, metrics);
        }
    }

    /// Every scalar of `object` as a row; nested objects with their key as metric prefix.
    fn object(&mut self, section: &str, group: &str, object: &Value, prefix: &str) {
        let Value::Object(map) = object else { return };
        for (key, value) in map {
            let metric = format!("{prefix}{key}");
            match value {
                Value::Object(_) => self.object(section, group, value, &format!("{metric}.")),
                Value::Array(items) => {
                    let joined: Vec<String> = items.iter().map(scalar).collect();
                    self.push(section, group, &metric, &joined.join(";"));
                }
                other => self.push(section, group, &metric, &scalar(other)),
            }
        }
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A between-group metric's cell: `value` where it compares something; a dash with the
/// reason for a single group (every such metric is trivially 0 or 1); for a metric of rates
/// (`parts`: each rate and the groups that define it), "undefined" when fewer than two
/// groups define a rate it needs (a target that is also a sensitive feature: no group has
/// both classes), and fairlearn's number with a note when only some groups do (fairlearn
/// counts an undefined rate as 0).
fn between_groups_cell(value: String, n_groups: usize, parts: &[(&str, usize)]) -> String {
    if n_groups < 2 {
        return "— (one group: nothing to compare)".to_owned();
    }
    let short: Vec<String> = parts
        .iter()
        .filter(|(_, defined)| *defined < n_groups)
        .map(|(rate, defined)| format!("{rate} defined in {defined} of {n_groups} groups"))
        .collect();
    if parts.iter().any(|(_, defined)| *defined < 2) {
        format!("undefined ({})", short.join(", "))
    } else if short.is_empty() {
        value
    } else {
        format!(
            "{value} (fairlearn's: an undefined rate counts as 0; {})",
            short.join(", ")
        )
    }
}

/// A demographic parity cell when every group holds one class: its selection rate is then
/// its TPR (all positive) or its FPR (all negative), so the gap measures errors, not how
/// differently the groups are treated.
fn one_class_note(cell: String, one_class: bool) -> String {
    if one_class && !cell.starts_with('—') {
        format!(
            "{cell} (every group holds one class: selection rate is its TPR or FPR, an error rate, not a disparity)"
        )
    } else {
        cell
    }
}

/// A `strict` metric's cell: over the groups where each rate is defined, saying so where
/// some groups do not define it; undefined when no rate is defined in two groups.
fn strict_cell(value: Option<f64>, n_groups: usize, parts: &[(&str, usize)]) -> String {
    if n_groups < 2 {
        return between_groups_cell(String::new(), n_groups, parts);
    }
    let counts: Vec<String> = parts
        .iter()
        .map(|(rate, defined)| format!("{rate} defined in {defined} of {n_groups} groups"))
        .collect();
    let used: Vec<&str> = parts
        .iter()
        .filter(|(_, defined)| *defined >= 2)
        .map(|(rate, _)| *rate)
        .collect();
    match value {
        None => format!("undefined ({})", counts.join(", ")),
        Some(_) if parts.iter().all(|(_, defined)| *defined == n_groups) => fmt(value),
        Some(_) if used.len() < parts.len() => format!(
            "{} ({} only: {})",
            fmt(value),
            used.join(" and "),
            counts.join(", ")
        ),
        Some(_) => format!(
            "{} (over the groups that define each rate: {})",
            fmt(value),
            counts.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use crate::{AuditOptions, PredictionTable, audit};

    /// Group names, labels and file names holding line breaks, `|` and backticks stay inside
    /// their cell or line: every table row has its header's number of cells.
    #[test]
    fn user_text_never_breaks_the_markdown() {
        let mut table = PredictionTable::new(["origin", "gen`der"]).unwrap();
        for (t, p, g) in [
            ("ye\ns", "ye\ns", ["Middle\nEastern", "F"]),
            ("no", "ye\ns", ["Middle\nEastern", "M\r\nX"]),
            ("ye\ns", "no", ["Latino", "F"]),
            ("no", "no", ["Latino", "M\r\nX"]),
        ] {
            table.push(t, p, &g).unwrap();
        }
        let options = AuditOptions {
            pos_label: "ye\ns".to_owned(),
            ..AuditOptions::default()
        };
        let mut report = audit(&table, &options).unwrap();
        report.meta.input = Some("pre`ds\n.csv".to_owned());
        let md = report.to_markdown();
        let cells = |line: &str| line.replace("\\|", "").matches('|').count();
        let mut header = None;
        for line in md.lines() {
            assert!(
                !["Eastern", "X", ".csv", "s"]
                    .iter()
                    .any(|t| line.starts_with(t)),
                "a line break of user text ended a line: {line:?}\n{md}"
            );
            match (line.starts_with('|'), header) {
                (true, None) => header = Some(cells(line)),
                (true, Some(n)) => assert_eq!(cells(line), n, "{line:?}\n{md}"),
                (false, _) => header = None,
            }
        }
        assert!(md.contains("| Middle<br>Eastern\\|F |"), "{md}");
        assert!(md.contains("- input: `` pre`ds<br>.csv ``"), "{md}");
    }

    /// Markup in user text is shown, not rendered: HTML tags and entities in a group, and a
    /// run of backticks in a file name, which would end a code span early.
    #[test]
    fn html_and_backtick_runs_in_user_text_are_shown_as_written() {
        let mut table = PredictionTable::new(["group"]).unwrap();
        for (t, p, g) in [
            ("1", "1", "<img src=x onerror=alert(1)>"),
            ("0", "1", "<img src=x onerror=alert(1)>"),
            ("1", "0", "R&amp;D"),
            ("0", "0", "R&amp;D"),
            ("1", "1", "`one` *star* _under_ ~~strike~~"),
            ("0", "1", "`one` *star* _under_ ~~strike~~"),
            ("1", "0", "[link](javascript:alert(1)) ![i](http://x/y.png)"),
            ("0", "0", "[link](javascript:alert(1)) ![i](http://x/y.png)"),
            ("1", "1", "# 1. - x`y"),
            ("0", "1", "# 1. - x`y"),
        ] {
            table.push(t, p, &[g]).unwrap();
        }
        let mut report = audit(&table, &AuditOptions::default()).unwrap();
        report.meta.input = Some("a``b`.csv".to_owned());
        let md = report.to_markdown();
        assert!(!md.contains("<img"), "{md}");
        assert!(
            md.contains("| &lt;img src=x onerror=alert(1)&gt; |"),
            "{md}"
        );
        assert!(md.contains("| R&amp;amp;D |"), "{md}");
        assert!(md.contains("- input: ``` a``b`.csv ```"), "{md}");
        assert!(
            md.contains("| \\`one\\` \\*star\\* \\_under\\_ \\~\\~strike\\~\\~ |"),
            "{md}"
        );
        assert!(
            md.contains("| \\[link\\](javascript:alert(1)) !\\[i\\](http://x/y.png) |"),
            "{md}"
        );
        assert!(md.contains("| \\# 1. - x\\`y |"), "{md}");
        // The overall row's label is the report's own markup: bold, not escaped.
        assert!(md.contains("| **overall** |"), "{md}");
        assert_eq!(super::markdown_inline("1. first"), "1\\. first");
        assert_eq!(super::markdown_inline("-1"), "\\-1");
        assert_eq!(super::code("plain"), "`plain`");
        assert_eq!(super::code("`x"), "`` `x ``");
    }

    #[test]
    fn the_long_csv_reads_back_with_commas_and_quotes_in_group_names() {
        let mut table = PredictionTable::new(["origin"]).unwrap();
        for (t, p, g) in [
            ("1", "1", "Middle Eastern, \"MENA\""),
            ("0", "1", "Middle Eastern, \"MENA\""),
            ("1", "1", "Latino"),
            ("0", "0", "Latino"),
        ] {
            table.push(t, p, &[g]).unwrap();
        }
        let report = audit(&table, &AuditOptions::default()).unwrap();
        let text = report.to_csv();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(
            reader.headers().unwrap(),
            vec!["section", "group", "metric", "value"]
        );
        let accuracy: Vec<(String, String)> = reader
            .records()
            .map(|r| r.unwrap())
            .filter(|r| &r[0] == "groups" && &r[2] == "accuracy")
            .map(|r| (r[1].to_owned(), r[3].to_owned()))
            .collect();
        assert_eq!(
            accuracy,
            [
                ("Latino".to_owned(), "1.0".to_owned()),
                ("Middle Eastern, \"MENA\"".to_owned(), "0.5".to_owned()),
            ]
        );
    }
}
