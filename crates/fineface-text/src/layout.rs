//! A spreadsheet's CSV made readable: its delimiter, and the lines before its header.

/// The delimiter of a CSV: the one Excel's `sep=` line declares; else a comma, unless the
/// header line (the first that is neither blank nor a `#` comment) has none and has
/// semicolons (Excel where the comma is the decimal mark) or tabs (`.tsv`, Excel's "Unicode
/// text"). Our column names hold none of the three, so the header decides.
pub fn delimiter(text: &str) -> u8 {
    let header = text
        .lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .unwrap_or_default();
    if let Some(&[d]) = excel_separator(header).map(str::as_bytes) {
        return d;
    }
    [b',', b';', b'\t']
        .into_iter()
        .find(|&d| header.as_bytes().contains(&d))
        .unwrap_or(b',')
}

/// The delimiter Excel declares on a first line `sep=;` (Excel writes and reads it; a
/// spreadsheet may quote the line).
pub fn excel_separator(line: &str) -> Option<&str> {
    line.trim_end_matches(['\r', '\n'])
        .trim_matches('"')
        .strip_prefix("sep=")
        .filter(|d| d.len() == 1)
}

/// A decoded CSV made ready for a CSV reader: its [`delimiter`], its preamble blanked
/// ([`blank_preamble`]) with the comment that may be its header kept
/// ([`PreambleComment`]), the header's line, and where each line starts ([`LineStarts`]),
/// so that a message names the line an editor shows.
///
/// [`LineStarts`]: crate::LineStarts
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvLayout {
    /// The text with its preamble blanked, line breaks kept.
    pub text: String,
    /// The delimiter.
    pub delimiter: u8,
    /// The 1-based line of the header, the first after the preamble.
    pub header_line: u64,
    /// The preamble's last `#` line.
    pub commented: Option<PreambleComment>,
    /// Where each line starts.
    pub lines: crate::LineStarts,
}

impl CsvLayout {
    /// The layout of `text` ([`decode`](crate::decode)d).
    pub fn of(text: String) -> Self {
        // The delimiter before the preamble is blanked: Excel's `sep=` line declares it.
        let delimiter = delimiter(&text);
        let commented = PreambleComment::last_of(&text);
        let text = blank_preamble(text);
        let header_line = text
            .lines()
            .position(|l| !l.trim().is_empty())
            .map_or(1, |i| i as u64 + 1);
        Self {
            lines: crate::LineStarts::of(&text),
            text,
            delimiter,
            header_line,
            commented,
        }
    }
}

/// The last `#` line of a CSV's preamble (the lines before its header), which is the
/// header itself where numpy's `savetxt(header=...)` wrote it (`# path,gender`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreambleComment {
    /// Its 1-based line.
    pub line: u64,
    /// The line as written, `#` included.
    pub text: String,
}

impl PreambleComment {
    /// The preamble's last `#` line of `text`, if it has one. Take it before
    /// [`blank_preamble`].
    pub fn last_of(text: &str) -> Option<Self> {
        text.lines()
            .enumerate()
            .take_while(|(i, l)| {
                l.trim().is_empty()
                    || l.starts_with('#')
                    || (*i == 0 && excel_separator(l).is_some())
            })
            .filter(|(_, l)| l.starts_with('#'))
            .last()
            .map(|(i, l)| Self {
                line: i as u64 + 1,
                text: l.to_owned(),
            })
    }

    /// Whether the comment, read as a header split by `delimiter`, names `column` (in any
    /// letter case): the header was commented out, and the first row taken for it.
    pub fn names(&self, column: &str, delimiter: u8) -> bool {
        self.text
            .trim_start_matches('#')
            .split(char::from(delimiter))
            .any(|n| n.trim().trim_matches('"').eq_ignore_ascii_case(column))
    }

    /// What to say, after "the header is written as a comment": the line and what to do.
    pub fn explain(&self, header_line: u64) -> String {
        format!(
            "the header is written as a comment (`{}`, as numpy's savetxt writes it unless \
             given comments=''): delete its `#` (line {header_line} was read as the header)",
            crate::shorten(&self.text)
        )
    }
}

/// `text` with the lines before its header blanked (`# exported by ...` comments, blank
/// lines, Excel's `sep=;` line), so that line numbers stay; a `#` line among the rows is a
/// row, never silently dropped. Take the [`delimiter`] first: the `sep=` line declares it.
pub fn blank_preamble(text: String) -> String {
    if !text.starts_with(['#', '\n', ' ', '\t', 's', '"']) {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut in_preamble = true;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let declaration = i == 0 && excel_separator(line).is_some();
        in_preamble &= declaration || line.trim().is_empty() || line.starts_with('#');
        if in_preamble {
            out.push_str(&line[line.trim_end_matches(['\r', '\n']).len()..]);
        } else {
            out.push_str(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_line_decides_the_delimiter() {
        assert_eq!(delimiter("file;race\nx;y,z\n"), b';');
        assert_eq!(delimiter("# note, with a comma\nfile\trace\n"), b'\t');
        assert_eq!(delimiter("file,race\nx;y\n"), b',');
        assert_eq!(delimiter("file\n"), b',');
        assert_eq!(delimiter("sep=;\nfile;race\n"), b';');
        assert_eq!(delimiter("sep=,\nfile;race\n"), b',');
        assert_eq!(delimiter("sep=\t\r\nfile;race\n"), b'\t');
        assert_eq!(delimiter("\"sep=|\"\nfile;race\n"), b'|');
    }

    #[test]
    fn the_preamble_is_blanked_and_rows_that_look_like_it_stay() {
        let text = "sep=;\n# exported\n\nfile;race\n# a row\n".to_owned();
        assert_eq!(blank_preamble(text), "\n\n\nfile;race\n# a row\n");
        let text = "sep=;\nfile;race\n".to_owned();
        assert_eq!(blank_preamble(text), "\nfile;race\n");
        let text = "file,race\n".to_owned();
        assert_eq!(blank_preamble(text.clone()), text);
    }
}
