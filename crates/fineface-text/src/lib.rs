//! Label files and CSVs as tables write them, read once at the edge: [`decode`] turns bytes
//! into UTF-8 text with `\n` line endings (or refuses them with the line), [`delimiter`] and
//! [`blank_preamble`] make a spreadsheet's CSV readable by the `csv` crate, and
//! [`not_a_label`] names the cells that hold no label. Used by `fineface-data` (dataset
//! label files) and `fineface-fair` (predictions), which map [`NotText`] into their own
//! error types with the file's path.

mod decode;
mod layout;
mod value;

pub use decode::{LineStarts, NotText, decode, line_of, shorten};
pub use layout::{CsvLayout, PreambleComment, blank_preamble, delimiter, excel_separator};
pub use value::{
    LookAlike, MISSING_SPELLINGS, MixedLetter, NotALabel, invisible_in, is_missing, is_score,
    look_alike, look_key, mixed_script, not_a_label, number, spelling_key, unseen_difference,
    whole_number,
};

/// The README's examples, run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
