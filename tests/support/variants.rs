//! The variants the real world writes of a valid text file (issue 27, section 2), shared by
//! `#[path]`: each reader's table-driven test reads every variant of one valid file and
//! expects the same value as from the file itself, or the refusal named here.
//!
//! [`text_variants`] applies to every text file (encodings, line endings, blank lines,
//! trailing white space); [`csv_variants`] adds what spreadsheets, pandas and R do to a CSV
//! (quoting, index columns, the other delimiters, header case and order, extra and missing
//! columns, a comment preamble).

#![allow(dead_code)] // Each test crate uses what it needs.

/// What a reader must do with a variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Give the value it gives for the original file.
    Same,
    /// Refuse it with an error whose message holds every one of these words.
    Refused(Vec<&'static str>),
}

/// One variant of a file.
#[derive(Debug, Clone)]
pub struct Variant {
    /// What was done, for the failure message (`UTF-16LE with BOM (Excel "Unicode text")`).
    pub name: &'static str,
    /// The bytes of the file.
    pub bytes: Vec<u8>,
    /// What the reader must do.
    pub expect: Expect,
}

fn variant(name: &'static str, bytes: impl Into<Vec<u8>>, expect: Expect) -> Variant {
    Variant {
        name,
        bytes: bytes.into(),
        expect,
    }
}

fn utf16(text: &str, little_endian: bool) -> Vec<u8> {
    let mut out = if little_endian {
        vec![0xFF, 0xFE]
    } else {
        vec![0xFE, 0xFF]
    };
    for unit in text.encode_utf16() {
        out.extend(if little_endian {
            unit.to_le_bytes()
        } else {
            unit.to_be_bytes()
        });
    }
    out
}

/// `text` in Latin-1 (ISO 8859-1), which is what Windows-1252 writes for these characters.
fn latin1(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).expect("a Latin-1 character"))
        .collect()
}

/// Every line of `text` (LF-terminated) passed through `f`.
fn map_lines(text: &str, f: impl Fn(&str) -> String) -> String {
    text.lines().map(|l| f(l) + "\n").collect()
}

/// The variants of any text file. `text` is the valid file, LF line endings, ending with a
/// newline, ASCII except perhaps Latin-1 letters. Where it holds a non-ASCII letter, its
/// Latin-1 bytes are refused (not UTF-8, naming the line); where it is ASCII they are the
/// same bytes and read the same.
pub fn text_variants(text: &str) -> Vec<Variant> {
    assert!(text.ends_with('\n') && !text.contains('\r'), "give LF text");
    let latin1_expect = match text.lines().position(|l| !l.is_ascii()) {
        Some(_) => Expect::Refused(vec!["not UTF-8", "Latin-1", "save the file as UTF-8"]),
        None => Expect::Same,
    };
    let mut utf16_no_bom = utf16(text, true);
    utf16_no_bom.drain(..2);
    vec![
        variant(
            "UTF-8 with BOM (Excel's \"CSV UTF-8\")",
            [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat(),
            Expect::Same,
        ),
        variant(
            "UTF-16LE with BOM (Excel's \"Unicode text\", Notepad)",
            utf16(text, true),
            Expect::Same,
        ),
        variant("UTF-16BE with BOM", utf16(text, false), Expect::Same),
        variant(
            "UTF-16LE without BOM",
            utf16_no_bom,
            Expect::Refused(vec!["zero bytes", "UTF-16"]),
        ),
        variant("Latin-1 (older Excel \"CSV\")", latin1(text), latin1_expect),
        variant("CRLF (Windows)", text.replace('\n', "\r\n"), Expect::Same),
        variant(
            "lone CR (classic Mac OS)",
            text.replace('\n', "\r"),
            Expect::Same,
        ),
        variant(
            "no final newline",
            text.trim_end_matches('\n'),
            Expect::Same,
        ),
        variant(
            "blank lines at the end",
            format!("{text}\n\n"),
            Expect::Same,
        ),
        variant(
            "trailing spaces and tabs",
            map_lines(text, |l| format!("{l}  \t")),
            Expect::Same,
        ),
    ]
}

/// The fields of a simple CSV line (no quotes, no commas in values).
fn fields(line: &str) -> Vec<&str> {
    line.split(',').collect()
}

/// `text` with every line's fields rearranged by `f`, joined with `delimiter`.
fn rearranged(
    text: &str,
    delimiter: &str,
    f: impl Fn(usize, Vec<String>) -> Vec<String>,
) -> String {
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            let row = fields(l).into_iter().map(str::to_owned).collect();
            f(i, row).join(delimiter) + "\n"
        })
        .collect()
}

/// The variants of a CSV: [`text_variants`], then what spreadsheets, pandas and R write.
/// `csv` is a valid comma-separated file with a header, LF line endings, a final newline, and
/// no quotes or commas inside values. `required` is a column the reader cannot do without:
/// the variant without it is refused naming it.
pub fn csv_variants(csv: &str, required: &'static str) -> Vec<Variant> {
    assert!(!csv.contains('"'), "give an unquoted CSV");
    let header = fields(csv.lines().next().expect("a header"));
    let dropped = header
        .iter()
        .position(|h| *h == required)
        .expect("the required column is in the header");
    let mut out = text_variants(csv);
    out.extend([
        variant(
            "every field quoted (R's write.csv, csv.QUOTE_ALL)",
            rearranged(csv, ",", |_, row| {
                row.iter().map(|f| format!("\"{f}\"")).collect()
            }),
            Expect::Same,
        ),
        variant(
            "pandas' unnamed index column first",
            rearranged(csv, ",", |i, row| {
                let index = if i == 0 {
                    String::new()
                } else {
                    (i - 1).to_string()
                };
                std::iter::once(index).chain(row).collect()
            }),
            Expect::Same,
        ),
        variant(
            "R's write.csv: quoted, row names first",
            rearranged(csv, ",", |i, row| {
                let name = if i == 0 { String::new() } else { i.to_string() };
                std::iter::once(name)
                    .chain(row)
                    .map(|f| format!("\"{f}\""))
                    .collect()
            }),
            Expect::Same,
        ),
        variant(
            "semicolons (Excel where the comma is the decimal mark)",
            csv.replace(',', ";"),
            Expect::Same,
        ),
        variant("tabs (.tsv)", csv.replace(',', "\t"), Expect::Same),
        variant(
            "tabs in UTF-16LE (Excel's \"Unicode text\")",
            utf16(&csv.replace(',', "\t"), true),
            Expect::Same,
        ),
        variant(
            "spaces after the commas",
            csv.replace(',', ", "),
            Expect::Same,
        ),
        variant(
            "header in upper case",
            rearranged(csv, ",", |i, row| {
                if i == 0 {
                    row.iter().map(|h| h.to_uppercase()).collect()
                } else {
                    row
                }
            }),
            Expect::Same,
        ),
        variant(
            "columns in the reverse order",
            rearranged(csv, ",", |_, mut row| {
                row.reverse();
                row
            }),
            Expect::Same,
        ),
        variant(
            "an extra column",
            rearranged(csv, ",", |i, mut row| {
                row.push(if i == 0 {
                    "notes".to_owned()
                } else {
                    "checked by hand".to_owned()
                });
                row
            }),
            Expect::Same,
        ),
        variant(
            "a comment preamble",
            format!("# exported 2026-12-05, v2\n#\n{csv}"),
            Expect::Same,
        ),
        variant(
            "the required column missing",
            rearranged(csv, ",", |_, mut row| {
                row.remove(dropped);
                row
            }),
            Expect::Refused(vec!["missing column", required]),
        ),
    ]);
    out
}

/// Checks `read` on every variant: `Same` must give `expected`, `Refused` an error holding
/// its words. Returns every failure, named, so that one run shows them all.
pub fn check_all<T: PartialEq + std::fmt::Debug, E: std::fmt::Display>(
    variants: &[Variant],
    expected: &T,
    mut read: impl FnMut(&[u8]) -> Result<T, E>,
) -> Vec<String> {
    let mut failures = Vec::new();
    for v in variants {
        match (&v.expect, read(&v.bytes)) {
            (Expect::Same, Ok(value)) if value == *expected => {}
            (Expect::Same, Ok(value)) => failures.push(format!("{}: read {value:?}", v.name)),
            (Expect::Same, Err(e)) => failures.push(format!("{}: refused: {e}", v.name)),
            (Expect::Refused(words), Err(e)) => {
                let message = e.to_string();
                if let Some(word) = words.iter().find(|w| !message.contains(*w)) {
                    failures.push(format!("{}: message lacks `{word}`: {message}", v.name));
                }
            }
            (Expect::Refused(_), Ok(value)) => {
                failures.push(format!("{}: read {value:?} instead of refusing", v.name));
            }
        }
    }
    failures
}

/// Fails with every variant [`check_all`] found mishandled by `reader`, one a line.
pub fn assert_all_handled(reader: &str, failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{reader}: {} variants mishandled:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
