//! The input of an audit: one row per prediction, labels and sensitive values as strings.

use std::collections::HashMap;

use crate::error::{FairError, Result};

/// Separator of feature values in a compound group name (`Black|Female`).
pub const GROUP_SEPARATOR: char = '|';

/// String interning: each distinct string gets a dense `u32` code in order of first sight.
#[derive(Debug, Clone, Default)]
pub(crate) struct Interner {
    names: Vec<String>,
    codes: HashMap<String, u32>,
}

impl Interner {
    pub(crate) fn intern(&mut self, name: &str) -> u32 {
        if let Some(&code) = self.codes.get(name) {
            return code;
        }
        let code = self.names.len() as u32;
        self.names.push(name.to_owned());
        self.codes.insert(name.to_owned(), code);
        code
    }

    pub(crate) fn name(&self, code: u32) -> &str {
        &self.names[code as usize]
    }

    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    pub(crate) fn names(&self) -> &[String] {
        &self.names
    }
}

/// Predictions of a classifier with the sensitive attributes of each sample.
///
/// Stored column-wise with every string interned, so a million rows cost a few megabytes and
/// counting them is a single pass over integers. A row's *cell* is its intersectional group:
/// the tuple of its values of every sensitive feature (`Black|Female`).
///
/// ```
/// use fineface_fair::PredictionTable;
///
/// let mut table = PredictionTable::new(["race", "gender"])?;
/// table.push("Male", "Male", &["Black", "Male"])?;
/// table.push("Female", "Male", &["Black", "Female"])?;
/// assert_eq!(table.len(), 2);
/// # Ok::<(), fineface_fair::FairError>(())
/// ```
#[derive(Debug, Clone)]
pub struct PredictionTable {
    feature_names: Vec<String>,
    labels: Interner,
    y_true: Vec<u32>,
    y_pred: Vec<u32>,
    /// Per feature, the interned values.
    values: Vec<Interner>,
    /// Per cell, the value code of every feature.
    cell_values: Vec<Box<[u32]>>,
    cells_by_values: HashMap<Box<[u32]>, u32>,
    /// Compound group string -> cell, the fast path of [`Self::push_compound`].
    cells_by_compound: HashMap<String, u32>,
    cell_of_row: Vec<u32>,
    scratch: Vec<u32>,
    /// The first label seen that is a number and the first that is not, as written: a table
    /// with both cannot be audited ([`Self::check_labels`]).
    first_numeric_label: Option<String>,
    first_text_label: Option<String>,
    /// Rows the reader dropped for a missing sensitive value.
    dropped_missing: u64,
}

/// The spelling a label is compared by: a number is written the one way Rust prints it
/// (`1.0`, `1`, `01`, `1e0` -> `1`; `0.50` -> `0.5`), as scikit-learn and fairlearn compare
/// numeric labels by value (pandas writes an int column with a missing value as floats);
/// anything else is kept as it is. Returns whether the label is a number.
pub fn canonical_label(label: &str) -> (std::borrow::Cow<'_, str>, bool) {
    match fineface_text::number(label) {
        Some(value) if value.is_finite() => {
            // `-0` and `0` are one label.
            let value = if value == 0.0 { 0.0 } else { value };
            (std::borrow::Cow::Owned(format!("{value}")), true)
        }
        _ => (std::borrow::Cow::Borrowed(label), false),
    }
}

impl PredictionTable {
    /// An empty table with the given sensitive features (in report order).
    ///
    /// Fails if there is no feature, a name is empty or contains `|`, or a name is repeated.
    pub fn new<I, S>(feature_names: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let feature_names: Vec<String> = feature_names.into_iter().map(Into::into).collect();
        let invalid = |reason| FairError::InvalidFeatures {
            features: feature_names.join(","),
            reason,
        };
        if feature_names.is_empty() {
            return Err(invalid("at least one sensitive feature is needed"));
        }
        if feature_names
            .iter()
            .any(|f| f.is_empty() || f.contains(GROUP_SEPARATOR))
        {
            return Err(invalid("feature names must be non-empty and free of `|`"));
        }
        for (i, name) in feature_names.iter().enumerate() {
            if feature_names[..i].contains(name) {
                return Err(invalid("a feature is named twice"));
            }
        }
        Ok(Self {
            values: vec![Interner::default(); feature_names.len()],
            feature_names,
            labels: Interner::default(),
            y_true: Vec::new(),
            y_pred: Vec::new(),
            cell_values: Vec::new(),
            cells_by_values: HashMap::new(),
            cells_by_compound: HashMap::new(),
            cell_of_row: Vec::new(),
            scratch: Vec::new(),
            first_numeric_label: None,
            first_text_label: None,
            dropped_missing: 0,
        })
    }

    /// Appends one prediction; `sensitive` holds one value per feature, in feature order.
    pub fn push(&mut self, y_true: &str, y_pred: &str, sensitive: &[&str]) -> Result<()> {
        if sensitive.len() != self.feature_names.len() {
            return Err(FairError::FeatureArity {
                row: self.len(),
                expected: self.feature_names.len(),
                found: sensitive.len(),
                features: self.feature_names.join(","),
            });
        }
        if let Some((feature, value)) = self
            .feature_names
            .iter()
            .zip(sensitive)
            .find(|(_, v)| v.contains(GROUP_SEPARATOR))
        {
            return Err(FairError::ValueHoldsSeparator {
                feature: feature.clone(),
                value: (*value).to_owned(),
            });
        }
        let cell = self.cell_for_values(sensitive.iter().copied());
        self.push_cell(y_true, y_pred, cell);
        Ok(())
    }

    /// Appends one prediction whose sensitive values come as one compound string
    /// (`Black|Female`, parts in feature order).
    ///
    /// Returns the number of parts found when it differs from the number of features, as
    /// `Err(found)`, so that a caller can report where the bad value came from.
    pub fn push_compound(
        &mut self,
        y_true: &str,
        y_pred: &str,
        group: &str,
    ) -> std::result::Result<(), usize> {
        let cell = match self.cells_by_compound.get(group) {
            Some(&cell) => cell,
            None => {
                let found = group.split(GROUP_SEPARATOR).count();
                if found != self.feature_names.len() {
                    return Err(found);
                }
                let cell = self.cell_for_values(group.split(GROUP_SEPARATOR).map(str::trim));
                self.cells_by_compound.insert(group.to_owned(), cell);
                cell
            }
        };
        self.push_cell(y_true, y_pred, cell);
        Ok(())
    }

    fn cell_for_values<'a>(&mut self, values: impl Iterator<Item = &'a str>) -> u32 {
        self.scratch.clear();
        for (feature, value) in values.enumerate() {
            let code = self.values[feature].intern(value);
            self.scratch.push(code);
        }
        if let Some(&cell) = self.cells_by_values.get(self.scratch.as_slice()) {
            return cell;
        }
        let cell = self.cell_values.len() as u32;
        let key: Box<[u32]> = self.scratch.clone().into_boxed_slice();
        self.cell_values.push(key.clone());
        self.cells_by_values.insert(key, cell);
        cell
    }

    /// Declares the classes a model predicts, so that the report has one whose rows hold
    /// none (a validation split without a positive image, nor a prediction of it): its
    /// rates are then undefined, not an unknown positive label.
    pub fn declare_classes<S: AsRef<str>>(&mut self, classes: &[S]) {
        for class in classes {
            self.intern_label(class.as_ref());
        }
    }

    fn push_cell(&mut self, y_true: &str, y_pred: &str, cell: u32) {
        let t = self.intern_label(y_true);
        let p = self.intern_label(y_pred);
        self.y_true.push(t);
        self.y_pred.push(p);
        self.cell_of_row.push(cell);
    }

    fn intern_label(&mut self, label: &str) -> u32 {
        let (canonical, numeric) = canonical_label(label);
        let first = if numeric {
            &mut self.first_numeric_label
        } else {
            &mut self.first_text_label
        };
        if first.is_none() {
            *first = Some(label.to_owned());
        }
        self.labels.intern(&canonical)
    }

    /// Checks that the labels are all numbers or all text: a mix (`1` beside `yes`) has no
    /// meaning as classes; and that no two labels, nor two values of a sensitive feature,
    /// differ only in case or surrounding spaces (`Male` beside `male`).
    ///
    /// # Errors
    /// [`FairError::MixedLabels`] naming the first spelling of each kind;
    /// [`FairError::CaseVariants`] naming the two spellings.
    pub fn check_labels(&self) -> Result<()> {
        match (&self.first_numeric_label, &self.first_text_label) {
            (Some(numeric), Some(text)) => Err(FairError::MixedLabels {
                numeric: numeric.clone(),
                text: text.clone(),
            }),
            _ => {
                case_variants(&self.labels.names, "the labels")?;
                for (name, values) in self.feature_names.iter().zip(&self.values) {
                    case_variants(&values.names, &format!("sensitive feature {name}"))?;
                }
                Ok(())
            }
        }
    }

    /// Rows of the source left out for a missing sensitive value
    /// ([`CsvSpec::drop_missing`](crate::CsvSpec::drop_missing)); 0 for a table built row by
    /// row.
    pub fn dropped_missing(&self) -> u64 {
        self.dropped_missing
    }

    pub(crate) fn set_dropped_missing(&mut self, rows: u64) {
        self.dropped_missing = rows;
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.y_true.len()
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.y_true.is_empty()
    }

    /// The sensitive feature names, in the order given.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// Every label seen in `y_true` or `y_pred`, sorted.
    pub fn classes(&self) -> Vec<String> {
        let mut classes = self.labels.names().to_vec();
        classes.sort();
        classes
    }

    /// The values seen for feature `feature` (index into [`Self::feature_names`]), sorted.
    pub fn feature_values(&self, feature: usize) -> Vec<String> {
        let mut values = self.values[feature].names().to_vec();
        values.sort();
        values
    }

    pub(crate) fn labels(&self) -> &Interner {
        &self.labels
    }

    pub(crate) fn y_true(&self) -> &[u32] {
        &self.y_true
    }

    pub(crate) fn y_pred(&self) -> &[u32] {
        &self.y_pred
    }

    pub(crate) fn cell_of_row(&self) -> &[u32] {
        &self.cell_of_row
    }

    pub(crate) fn n_cells(&self) -> usize {
        self.cell_values.len()
    }

    /// The value of `feature` in cell `cell`.
    pub(crate) fn cell_value(&self, cell: usize, feature: usize) -> &str {
        self.values[feature].name(self.cell_values[cell][feature])
    }

    /// The compound name of a cell, its values joined with `|` in feature order.
    pub(crate) fn cell_name(&self, cell: usize) -> String {
        (0..self.feature_names.len())
            .map(|f| self.cell_value(cell, f))
            .collect::<Vec<_>>()
            .join("|")
    }

    /// Combinations of observed feature values that never occur together, by compound name.
    pub(crate) fn empty_intersections(&self) -> Vec<String> {
        let per_feature: Vec<Vec<String>> = (0..self.feature_names.len())
            .map(|f| self.feature_values(f))
            .collect();
        let observed: std::collections::HashSet<String> =
            (0..self.n_cells()).map(|c| self.cell_name(c)).collect();
        let mut combos = vec![String::new()];
        for (f, values) in per_feature.iter().enumerate() {
            combos = combos
                .iter()
                .flat_map(|prefix| {
                    values.iter().map(move |v| {
                        if f == 0 {
                            v.clone()
                        } else {
                            format!("{prefix}|{v}")
                        }
                    })
                })
                .collect();
        }
        let mut empty: Vec<String> = combos
            .into_iter()
            .filter(|c| !observed.contains(c))
            .collect();
        empty.sort();
        empty
    }
}

/// [`FairError::CaseVariants`] for the first values of `names` that are one value spelled
/// two ways: equal once lowercased, with `_` and `-` read as spaces and runs of spaces as
/// one (`Latino_Hispanic` beside `latino hispanic`, `Black  Female` beside `Black Female`).
fn case_variants(names: &[String], what: &str) -> Result<()> {
    let mut seen: HashMap<String, &str> = HashMap::new();
    // Numbers are their own spelling: `-1` and `1` are two labels.
    for name in names {
        let Some(key) = fineface_text::spelling_key(name) else {
            continue;
        };
        if let Some(first) = seen.insert(key, name) {
            return Err(FairError::CaseVariants {
                what: what.to_owned(),
                first: (*first).to_owned(),
                second: name.clone(),
                unseen: fineface_text::unseen_difference(first, name),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compound_and_separate_rows_share_cells() {
        let mut table = PredictionTable::new(["race", "gender"]).unwrap();
        table.push("1", "1", &["Black", "Male"]).unwrap();
        table.push_compound("0", "1", "Black|Male").unwrap();
        table.push_compound("0", "0", "White | Female").unwrap();
        assert_eq!(table.n_cells(), 2);
        assert_eq!(table.cell_of_row(), &[0, 0, 1]);
        assert_eq!(table.cell_name(1), "White|Female");
        assert_eq!(
            table.empty_intersections(),
            vec!["Black|Female", "White|Male"]
        );
    }

    #[test]
    fn wrong_arity_is_reported() {
        let mut table = PredictionTable::new(["race", "gender"]).unwrap();
        assert_eq!(table.push_compound("1", "1", "Black"), Err(1));
        assert!(matches!(
            table.push("1", "1", &["Black"]),
            Err(FairError::FeatureArity {
                expected: 2,
                found: 1,
                ..
            })
        ));
    }

    #[test]
    fn feature_names_are_validated() {
        assert!(PredictionTable::new(Vec::<String>::new()).is_err());
        assert!(PredictionTable::new(["race", "race"]).is_err());
        assert!(PredictionTable::new(["race|gender"]).is_err());
    }
}
