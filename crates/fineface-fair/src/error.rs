//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while reading predictions or computing a report.
///
/// Messages are lowercase and name the file, line, column or value that failed, so that a
/// command-line user can fix the input without reading code.
#[derive(Debug, thiserror::Error)]
pub enum FairError {
    /// The predictions file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file that failed.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The file is not text in an encoding we read (UTF-8, or UTF-16 with a byte-order
    /// mark): Latin-1 from older Excel, UTF-16 without a mark, a binary file.
    #[error("{path}:{line}: {cause}")]
    NotText {
        /// The file that failed.
        path: PathBuf,
        /// 1-based line of the first byte that is not text.
        line: u64,
        /// What the bytes are, and what to do.
        cause: String,
    },
    /// The CSV parser failed (for example invalid UTF-8 or an unterminated quote).
    #[error("{path}:{line}: malformed csv: {message}")]
    Csv {
        /// The file that failed.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The parser's explanation.
        message: String,
    },
    /// The file has no header line at all.
    #[error("{path}: the file is empty (expected a header line with {expected})")]
    EmptyFile {
        /// The file that failed.
        path: PathBuf,
        /// The columns that were expected, for the message.
        expected: String,
    },
    /// The header is written as a `#` comment (numpy's `savetxt`), so the first row was
    /// read as the header.
    #[error("{path}:{line}: {explanation}")]
    CommentedHeader {
        /// The file that failed.
        path: PathBuf,
        /// The comment's line.
        line: u64,
        /// What it is and what to do.
        explanation: String,
    },
    /// A `#` line among the rows (a row commented out, a note): no comment to a CSV reader.
    #[error(
        "{path}:{line}: a `#` line among the rows (a row commented out, or a note): a CSV has \
         no comments after its header; delete the line, or its `#`"
    )]
    CommentedRow {
        /// The file.
        path: PathBuf,
        /// The line.
        line: u64,
    },
    /// The header lacks a column the audit needs.
    #[error("{path}:{line}: missing column `{column}` (the header has: {available})")]
    MissingColumn {
        /// The file that failed.
        path: PathBuf,
        /// The header's line.
        line: u64,
        /// The column that was looked for.
        column: String,
        /// The columns that the header does have, comma-separated.
        available: String,
    },
    /// Two columns differ from a requested one only in letter case.
    #[error(
        "{path}:{line}: columns {candidates} differ only in letter case; which one is `{column}`? rename the others"
    )]
    AmbiguousColumn {
        /// The file that failed.
        path: PathBuf,
        /// The header's line.
        line: u64,
        /// The column that was looked for.
        column: String,
        /// The columns that match it in another case, quoted and joined.
        candidates: String,
    },
    /// A row repeats the header: two files concatenated.
    #[error("{path}:{line}: this row repeats the header (two files concatenated?); remove it")]
    RepeatedHeader {
        /// The file that failed.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
    },
    /// A label column holds a missing value as pandas or R writes it (`nan`, `NA`).
    #[error(
        "{path}:{line}: column `{column}` holds `{value}`, a missing value, where a label is \
         expected; fill it in or drop the row"
    )]
    MissingLabel {
        /// The file that failed.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The column.
        column: String,
        /// The value as written.
        value: String,
    },
    /// A label column holds a score or probability (a number that is not whole).
    #[error(
        "{path}:{line}: column `{column}` holds `{value}`, a score, where a label is expected; \
         write the predicted class (for example `y_pred = score >= 0.5`), or name the label \
         column (--y-true, --y-pred)"
    )]
    ScoreNotLabel {
        /// The file that failed.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The column.
        column: String,
        /// The score.
        value: String,
    },
    /// A label or group cell that is no value of any class or group: an Excel error value
    /// (`#VALUE!`) or a value holding an invisible character (a zero-width space).
    #[error("{path}:{line}: column `{column}` holds `{value}`, {}", why.explain(value))]
    NotALabel {
        /// The file that failed.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The column.
        column: String,
        /// The value as written.
        value: String,
        /// What the cell holds.
        why: fineface_text::NotALabel,
    },
    /// A value of a separate sensitive column holds `|`, which joins the parts of a compound
    /// group: `A|B` and `C` would be one group with `A` and `B|C`.
    #[error(
        "{path}:{line}: column `{column}` holds `{value}`: `|` joins the parts of a group \
         (race|gender), so a value cannot hold it; write it otherwise"
    )]
    SeparatorInGroup {
        /// The file that failed.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The column.
        column: String,
        /// The value as written.
        value: String,
    },
    /// A sensitive value given to [`crate::PredictionTable::push`] holds `|`, which joins the
    /// parts of a compound group.
    #[error(
        "the {feature} value `{value}` holds `|`, which joins the parts of a group; write it \
         otherwise"
    )]
    ValueHoldsSeparator {
        /// The sensitive feature.
        feature: String,
        /// The value.
        value: String,
    },
    /// The header names the same column twice.
    #[error("{path}:{line}: column `{column}` appears more than once in the header")]
    DuplicateColumn {
        /// The file that failed.
        path: PathBuf,
        /// The header's line.
        line: u64,
        /// The repeated column name.
        column: String,
    },
    /// A data line has a different number of fields from the header.
    #[error("{path}:{line}: expected {expected} fields as in the header, found {found}")]
    RaggedRow {
        /// The file that failed.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// Fields in the header.
        expected: usize,
        /// Fields on this line.
        found: usize,
    },
    /// A label or sensitive value is the empty string.
    #[error("{path}:{line}: column `{column}` is empty")]
    EmptyValue {
        /// The file that failed.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The column holding the empty value.
        column: String,
    },
    /// A compound group value has a different number of `|`-separated parts than expected.
    #[error(
        "{path}:{line}: column `{column}` value `{value}` has {found} `|`-separated parts, expected {expected} ({features})"
    )]
    GroupArity {
        /// The file that failed.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The compound column.
        column: String,
        /// The offending value.
        value: String,
        /// Number of parts expected.
        expected: usize,
        /// Number of parts found.
        found: usize,
        /// The feature names the parts map to, comma-separated.
        features: String,
    },
    /// A row passed to [`PredictionTable::push`](crate::PredictionTable::push) has the wrong
    /// number of sensitive values.
    #[error("row {row}: expected {expected} sensitive values ({features}), got {found}")]
    FeatureArity {
        /// 0-based row index.
        row: usize,
        /// Number of sensitive features of the table.
        expected: usize,
        /// Number of values given.
        found: usize,
        /// The feature names, comma-separated.
        features: String,
    },
    /// The table has no sensitive feature, or names one twice.
    #[error("invalid sensitive features [{features}]: {reason}")]
    InvalidFeatures {
        /// The names given, comma-separated.
        features: String,
        /// What is wrong with them.
        reason: &'static str,
    },
    /// The table has no rows, so no rate exists.
    #[error("{source_name}: no prediction rows")]
    NoRows {
        /// The file (or `<table>`) with no rows.
        source_name: String,
    },
    /// The positive label occurs neither in `y_true` nor in `y_pred`.
    #[error("positive label `{pos_label}` occurs in neither y_true nor y_pred (labels: {classes})")]
    UnknownPosLabel {
        /// The label asked for.
        pos_label: String,
        /// The labels that do occur, comma-separated.
        classes: String,
    },
    /// A sensitive value is a spelling of a missing value (`nan`, `NA`, ...).
    #[error(
        "{}:{line}: missing value `{value}` in sensitive column `{column}`: a missing value is \
         no group; fill it in, or drop such rows (`--drop-missing`, `CsvSpec::drop_missing`)",
        path.display()
    )]
    MissingSensitiveValue {
        /// The predictions file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// The sensitive column.
        column: String,
        /// The value as written.
        value: String,
    },
    /// Some labels are numbers and others are not.
    #[error(
        "labels mix numbers and text (`{numeric}` and `{text}`): numeric labels are compared \
         by value (`1` = `1.0`), so every label of y_true and y_pred must be a number, or none"
    )]
    MixedLabels {
        /// The first numeric label seen, as written.
        numeric: String,
        /// The first non-numeric label seen, as written.
        text: String,
    },
    /// Labels or group values that differ only in letter case or surrounding spaces
    /// (`Male` and `male`): counted apart they split one class or group in two.
    #[error(
        "{what}: values that differ only in case, spaces, `_`, dashes or Unicode form: {first:?}, \
         {second:?}{unseen}; spell each one way (they would be audited as different classes or \
         groups)"
    )]
    CaseVariants {
        /// `the labels` or `sensitive feature race`.
        what: String,
        /// One spelling of the first value found so.
        first: String,
        /// Another.
        second: String,
        /// Where they differ, when the eye cannot tell (`, which differ in U+00A0 against
        /// U+0020`); empty otherwise ([`fineface_text::unseen_difference`]).
        unseen: String,
    },
    /// An error about the table as a whole (mixed labels, two spellings), with the file and
    /// the lines where the values it names first occur.
    #[error("{path}: {source} ({lines})")]
    InFile {
        /// The file.
        path: PathBuf,
        /// Where each value named first occurs (`\`1\` first on line 2, \`yes\` on line 7`).
        lines: String,
        /// The table's error.
        #[source]
        source: Box<FairError>,
    },
    /// Bootstrap settings out of range.
    #[error("invalid bootstrap setting: {0}")]
    InvalidBootstrap(String),
    /// The report could not be written as JSON.
    #[error("cannot write the report as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Short for `Result<T, FairError>`.
pub type Result<T, E = FairError> = std::result::Result<T, E>;
