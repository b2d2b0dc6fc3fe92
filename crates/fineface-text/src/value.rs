//! The cells of a label or group column that hold no label, as pandas, R, Excel and web
//! pages write them, and the spellings under which one label is one value.

/// How tools write a missing value as text, compared without case: pandas' default
/// `na_values` (`nan`, `NaN`, `-nan`, `NA`, `N/A`, `#N/A`, `#NA`, `<NA>`, `NULL`, `None`,
/// `1.#IND`, `-1.#QNAN`, ...), `NaT` (a missing pandas timestamp as `str`), and the
/// placeholders of survey and spreadsheet files (`?` in UCI's files, `.` in SAS and
/// Stata exports, `-` and `--` in hand-kept tables). The empty cell is missing too.
pub const MISSING_SPELLINGS: [&str; 22] = [
    "nan", "-nan", "+nan", "na", "n/a", "#n/a", "#n/a n/a", "#na", "<na>", "null", "none", "nat",
    "1.#ind", "-1.#ind", "1.#qnan", "-1.#qnan", "?", ".", "-", "--", "n.a.", "missing",
];

/// Why a cell holds no label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotALabel {
    /// An empty cell.
    Empty,
    /// A missing-value spelling ([`MISSING_SPELLINGS`]).
    Missing,
    /// A score or probability: a number that is not whole (`0.73`, `0,73`), a percentage
    /// (`73%`), or an infinite one.
    Score,
    /// An Excel error value (`#VALUE!`, `#DIV/0!`, `#REF!`, `#NAME?`): a formula failed.
    SpreadsheetError,
    /// A character that shows as nothing (a zero-width space, a soft hyphen, a direction
    /// mark, a byte-order mark): two cells that look alike would be two values.
    Invisible(char),
    /// A word whose letters come from two scripts that look alike (a Cyrillic `а` in
    /// `male`; Unicode TS #39's single-script test, where Japanese and Chinese mixes count
    /// as one): it would be a different value from the word it looks like.
    MixedScript(MixedLetter),
}

/// A letter of another script than the rest of its word ([`NotALabel::MixedScript`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MixedLetter {
    /// The letter (`а`, Cyrillic).
    pub letter: char,
    /// The word's first letter of the script it is written in, its most frequent (`m`,
    /// Latin).
    pub first: char,
}

impl MixedLetter {
    /// The script of `letter`, by its Unicode name (`Cyrillic`).
    pub fn script(self) -> &'static str {
        unicode_script::UnicodeScript::script(&self.letter).full_name()
    }

    /// The script of the word's first letter (`Latin`).
    pub fn word_script(self) -> &'static str {
        unicode_script::UnicodeScript::script(&self.first).full_name()
    }
}

impl NotALabel {
    /// What the cell holding `value` is and what to do, in words after "holds `value`, ".
    pub fn explain(self, value: &str) -> String {
        match self {
            Self::Empty => "an empty cell; fill it in or drop the row".to_owned(),
            Self::Missing => format!(
                "which pandas, R and spreadsheets write for a missing value; fill it in or drop \
                 the row (if `{value}` is a real label, spell it otherwise)"
            ),
            Self::Score => "a score, where a label is expected; write the class (threshold \
                            the score) instead"
                .to_owned(),
            Self::SpreadsheetError => "an Excel error value: the formula behind the cell \
                                       failed; fix it, or fill in the label"
                .to_owned(),
            Self::Invisible(c) => format!(
                "an invisible character U+{:04X} ({}), which would make a value that looks \
                 like another a different one; delete it",
                u32::from(c),
                invisible_name(c)
            ),
            Self::MixedScript(m) => format!(
                "a word of {} letters with a {} `{}` (U+{:04X}) in it, which looks like a {} \
                 letter but makes another value; retype it",
                m.word_script(),
                m.script(),
                m.letter,
                u32::from(m.letter),
                m.word_script()
            ),
        }
    }
}

/// The first letter of `value` whose script differs from the rest of its word, in a word
/// that Unicode TS #39 does not count as one script (`mаle` with a Cyrillic `а`; not
/// `東京タワー`, whose Han and Katakana are one Japanese script).
pub fn mixed_script(value: &str) -> Option<MixedLetter> {
    use unicode_script::{Script, UnicodeScript};
    use unicode_security::{RestrictionLevel, RestrictionLevelDetection};
    // Latin with Han, Hiragana, Katakana, Hangul or another script that looks unlike it
    // (`Tシャツ`, `X線`) is a word; with Cyrillic or Greek, whose letters look like Latin
    // ones, it is the word's look-alike (UTS #39's moderately restrictive level).
    // Words end at spaces, ASCII punctuation and dashes: `HIV-положительный` is two.
    let word = value
        .split(|c: char| {
            c.is_whitespace() || (c.is_ascii() && !c.is_ascii_alphanumeric()) || DASHES.contains(&c)
        })
        .find(|w| w.detect_restriction_level() > RestrictionLevel::ModeratelyRestrictive)?;
    let letters: Vec<(char, Script)> = word
        .chars()
        .map(|c| (c, c.script()))
        .filter(|(_, s)| !matches!(s, Script::Common | Script::Inherited | Script::Unknown))
        .collect();
    // The word's script is its most frequent one (the earliest on a tie); the odd letter is
    // the first of another (`мale`: Latin, with a Cyrillic `м`).
    let mut counts: Vec<(Script, usize)> = Vec::new();
    for &(_, script) in &letters {
        match counts.iter_mut().find(|(s, _)| *s == script) {
            Some((_, n)) => *n += 1,
            None => counts.push((script, 1)),
        }
    }
    let most = counts.iter().map(|(_, n)| *n).max()?;
    let (word_script, _) = counts.iter().find(|(_, n)| *n == most)?;
    let first = letters.iter().find(|(_, s)| s == word_script)?.0;
    letters
        .iter()
        .find(|(_, s)| s != word_script)
        .map(|&(letter, _)| MixedLetter { letter, first })
}

/// Why `value` (trimmed) is no label, or `None` when it is one.
pub fn not_a_label(value: &str) -> Option<NotALabel> {
    if value.is_empty() {
        Some(NotALabel::Empty)
    } else if is_missing(value) {
        Some(NotALabel::Missing)
    } else if is_spreadsheet_error(value) {
        Some(NotALabel::SpreadsheetError)
    } else if is_score(value) {
        Some(NotALabel::Score)
    } else {
        let invisible = value.chars().find(|&c| is_invisible(c));
        invisible
            .map(NotALabel::Invisible)
            .or_else(|| mixed_script(value).map(NotALabel::MixedScript))
    }
}

/// Whether `value` is empty or a missing-value spelling ([`MISSING_SPELLINGS`]).
pub fn is_missing(value: &str) -> bool {
    value.is_empty()
        || MISSING_SPELLINGS
            .iter()
            .any(|m| value.eq_ignore_ascii_case(m))
}

/// The first invisible character of `text` ([`NotALabel::Invisible`]), for messages about
/// names that look right but are not (a header `y_true` followed by a zero-width space).
pub fn invisible_in(text: &str) -> Option<char> {
    text.chars().find(|&c| is_invisible(c))
}

/// `value` as a number: with a decimal point, or, as Excel writes it where the comma is the
/// decimal mark, a decimal comma (`0,73`, `1,0`).
pub fn number(value: &str) -> Option<f64> {
    value.parse::<f64>().ok().or_else(|| {
        let decimal_comma = !value.contains('.') && value.matches(',').count() == 1;
        decimal_comma
            .then(|| value.replacen(',', ".", 1).parse::<f64>().ok())
            .flatten()
    })
}

/// `value` as a whole number when it is one, however written (`1`, `1.0`, `01`, `1,0`,
/// `1e0`; `-0` is `0`), as scikit-learn compares numeric labels by value.
pub fn whole_number(value: &str) -> Option<i64> {
    number(value)
        .filter(|v| v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15)
        .map(|v| v as i64)
}

/// A score or probability: a number that is not whole (`0.73`, `0,73`), a percentage
/// (`73%`, `100 %`), or an infinite one.
pub fn is_score(value: &str) -> bool {
    if let Some(percent) = value.strip_suffix('%') {
        return number(percent.trim_end()).is_some_and(f64::is_finite);
    }
    number(value).is_some_and(|v| v.is_infinite() || (v.is_finite() && v.fract() != 0.0))
}

/// Where two spellings of one value differ when the eye cannot tell (a no-break space for a
/// space, an en dash for `-`, a full-width letter): `, which differ in U+00A0 against
/// U+0020`, to end a message naming both; empty when the first difference is plain ASCII
/// (letter case, `_`), which shows.
pub fn unseen_difference(a: &str, b: &str) -> String {
    let differ = a.chars().zip(b.chars()).find(|(x, y)| x != y);
    match differ {
        Some((x, y)) if !x.is_ascii() || !y.is_ascii() => format!(
            ", which differ in U+{:04X} against U+{:04X}",
            u32::from(x),
            u32::from(y)
        ),
        _ => String::new(),
    }
}

/// How two different values look the same to a reader ([`look_alike`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookAlike {
    /// They differ only in letter case (`Male`, `male`).
    LetterCase,
    /// They differ in characters that show alike (a Cyrillic `а` for `a`, a full-width
    /// letter, a zero-width space): the first two that differ other than in letter case.
    Characters {
        /// The first value's character; `None` where it ends.
        first: Option<char>,
        /// The second value's.
        second: Option<char>,
    },
}

impl std::fmt::Display for LookAlike {
    /// `only in letter case`, `in U+0430 against U+0061, which look alike`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let code = |c: Option<char>| {
            c.map_or_else(
                || "nothing".to_owned(),
                |c| format!("U+{:04X}", u32::from(c)),
            )
        };
        match self {
            Self::LetterCase => f.write_str("only in letter case"),
            Self::Characters { first, second } => write!(
                f,
                "in {} against {}, which look alike",
                code(*first),
                code(*second)
            ),
        }
    }
}

/// What `value` looks like: lowercase, invisible characters dropped, compatibility forms
/// folded (NFKC) and confusables mapped (UTS #39's skeleton). Values of one key look alike
/// ([`look_alike`]).
pub fn look_key(value: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let visible: String = value.chars().filter(|&c| !is_invisible(c)).nfkc().collect();
    // The skeleton of what is not ASCII only: its table also maps ASCII to ASCII (`m` to
    // `rn`, `1` to `l`), which would make `Kim` and `Kirn` one; before lowercasing, since
    // it maps capitals to capitals (Cyrillic `М` to `M`).
    let mut skeleton = String::with_capacity(visible.len());
    for c in visible.chars() {
        if c.is_ascii() {
            skeleton.push(c);
        } else {
            skeleton.extend(unicode_security::skeleton(c.encode_utf8(&mut [0; 4])));
        }
    }
    skeleton
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `a` and `b`, different values, look the same: in another letter case, or once
/// invisible characters are dropped, compatibility forms folded (NFKC: full-width letters)
/// and Unicode's confusables mapped (UTS #39's skeleton: a Cyrillic `а` is `a`).
pub fn look_alike(a: &str, b: &str) -> Option<LookAlike> {
    if a == b {
        return None;
    }
    if a.to_lowercase() == b.to_lowercase() {
        return Some(LookAlike::LetterCase);
    }
    if look_key(a) != look_key(b) {
        return None;
    }
    // The first characters that differ other than in letter case: `Femаle` against `female`
    // is the Cyrillic `а`, not the capital.
    let same = |x: char, y: char| x.to_lowercase().eq(y.to_lowercase());
    let (mut x, mut y) = (a.chars(), b.chars());
    loop {
        match (x.next(), y.next()) {
            (Some(p), Some(q)) if same(p, q) => {}
            (None, None) => return None,
            (first, second) => return Some(LookAlike::Characters { first, second }),
        }
    }
}

/// The dashes that are not `-`: Unicode's hyphens, en and em dashes, the minus sign and
/// their small forms (full-width `－` is `-` in NFKC).
const DASHES: [char; 11] = [
    '\u{2010}', '\u{2011}', '\u{2012}', '\u{2013}', '\u{2014}', '\u{2015}', '\u{2043}', '\u{2212}',
    '\u{FE58}', '\u{FE63}', '\u{058A}',
];

/// The key under which two spellings are one value: lowercase, `_`, `-` and the other
/// dashes (`–`, `‐`, `−`) read as spaces,
/// runs of spaces as one (`Latino_Hispanic`, `latino hispanic`, `Black  Female`), Unicode's
/// compatibility forms as the plain letters (NFKC: full-width `Ｍａｌｅ`, a no-break space,
/// `ﬁ`; composed and decomposed accents). Numbers are their own spelling (`-1` and `1` are
/// two labels): the key of a number is `None`.
pub fn spelling_key(value: &str) -> Option<String> {
    use unicode_normalization::UnicodeNormalization;
    if number(value).is_some() {
        return None;
    }
    Some(
        value
            .nfkc()
            .collect::<String>()
            .to_lowercase()
            .replace(['_', '-'], " ")
            .replace(DASHES, " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// A spreadsheet's error value: `#` and capitals in any language, ending in `!` or `?`
/// (`#VALUE!`, `#DIV/0!`, `#NAME?`, German `#WERT!`, Spanish `#¡VALOR!`), `#GETTING_DATA`,
/// German `#NV` (`#N/A`), or LibreOffice's `Err:502`. (`#N/A` is a missing value for
/// pandas, and is one here.)
fn is_spreadsheet_error(value: &str) -> bool {
    if let Some(code) = value.strip_prefix("Err:") {
        return !code.is_empty() && code.bytes().all(|b| b.is_ascii_digit());
    }
    let Some(body) = value.strip_prefix('#') else {
        return false;
    };
    let ends = value.ends_with(['!', '?']);
    let body = body.trim_end_matches(['!', '?']);
    let word = |c: char| c.is_uppercase() || c.is_ascii_digit() || "/_¡¿".contains(c);
    let shaped = body.chars().any(char::is_uppercase) && body.chars().all(word);
    shaped && (ends || ["GETTING_DATA", "NV"].contains(&body))
}

/// Characters that show as nothing: Unicode's format characters (`Cf`: zero-width space and
/// joiners, direction marks and controls, the byte-order mark, soft hyphen, tags), other
/// default-ignorable ones (the combining grapheme joiner, variation selectors, Hangul
/// fillers), and the line and paragraph separators, which end a line in some viewers.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}'
            | '\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}'
            | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    ) || ('\u{0600}'..='\u{0605}').contains(&c)
}

fn invisible_name(c: char) -> &'static str {
    match c {
        '\u{00AD}' => "soft hyphen",
        '\u{200B}' => "zero-width space",
        '\u{200C}' => "zero-width non-joiner",
        '\u{200D}' => "zero-width joiner",
        '\u{200E}' | '\u{200F}' | '\u{061C}' => "direction mark",
        '\u{2028}' => "line separator",
        '\u{2029}' => "paragraph separator",
        '\u{FE00}'..='\u{FE0F}' => "variation selector",
        '\u{034F}' => "combining grapheme joiner",
        '\u{3164}' | '\u{115F}' | '\u{1160}' | '\u{FFA0}' => "Hangul filler",
        '\u{E0000}'..='\u{E0FFF}' => "tag character",
        '\u{2060}' => "word joiner",
        '\u{FEFF}' => "byte-order mark",
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => "direction control",
        _ => "format character",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_cell_that_is_no_label_is_named() {
        for value in [
            "", "nan", "NaN", "-nan", "NA", "n/a", "#N/A", "<NA>", "NULL", "None",
        ] {
            assert!(is_missing(value), "{value}");
        }
        for (value, why) in [
            ("", NotALabel::Empty),
            ("NaT", NotALabel::Missing),
            ("?", NotALabel::Missing),
            ("-", NotALabel::Missing),
            (".", NotALabel::Missing),
            ("1.#QNAN", NotALabel::Missing),
            ("0.73", NotALabel::Score),
            ("0,73", NotALabel::Score),
            ("73%", NotALabel::Score),
            ("100 %", NotALabel::Score),
            ("-inf", NotALabel::Score),
            ("#VALUE!", NotALabel::SpreadsheetError),
            ("#DIV/0!", NotALabel::SpreadsheetError),
            ("#NAME?", NotALabel::SpreadsheetError),
            ("#GETTING_DATA", NotALabel::SpreadsheetError),
            ("Bl\u{200B}ack", NotALabel::Invisible('\u{200B}')),
            ("\u{200E}White", NotALabel::Invisible('\u{200E}')),
            ("Wo\u{00AD}man", NotALabel::Invisible('\u{00AD}')),
            ("\u{061C}Female", NotALabel::Invisible('\u{061C}')),
            ("Fe\u{034F}male", NotALabel::Invisible('\u{034F}')),
            ("Male\u{FE0F}", NotALabel::Invisible('\u{FE0F}')),
            ("\u{3164}", NotALabel::Invisible('\u{3164}')),
            ("Male\u{E0001}", NotALabel::Invisible('\u{E0001}')),
            ("Ma\u{2028}le", NotALabel::Invisible('\u{2028}')),
            ("#NV", NotALabel::SpreadsheetError),
            ("#WERT!", NotALabel::SpreadsheetError),
            ("#¡VALOR!", NotALabel::SpreadsheetError),
            ("#NOM?", NotALabel::SpreadsheetError),
            ("Err:502", NotALabel::SpreadsheetError),
        ] {
            assert_eq!(not_a_label(value), Some(why), "{value:?}");
        }
        for label in [
            "Black",
            "1",
            "-1",
            "1.0",
            "01",
            "1,0",
            "0-2",
            "more than 70",
            "I-II",
            "#1",
            "C#",
            "East Asian",
            "Zoë",
            "%",
        ] {
            assert_eq!(not_a_label(label), None, "{label:?}");
        }
        assert!(
            NotALabel::Invisible('\u{200B}')
                .explain("x")
                .contains("U+200B (zero-width space)")
        );
    }

    #[test]
    fn numbers_compare_by_value_and_words_by_their_spelling_key() {
        let wholes = [
            "1.0", "01", "-0.0", "-1", "1e0", "2.5", "Male", "1,0", "1,000.5",
        ]
        .map(whole_number);
        assert_eq!(
            wholes,
            [
                Some(1),
                Some(1),
                Some(0),
                Some(-1),
                Some(1),
                None,
                None,
                Some(1),
                None
            ]
        );
        assert_eq!(
            spelling_key("Latino_Hispanic"),
            spelling_key("latino  hispanic")
        );
        assert_eq!(spelling_key("East-Asian").as_deref(), Some("east asian"));
        assert_eq!(spelling_key("-1"), None);
        assert_ne!(spelling_key("I-II"), spelling_key("III"));
    }
}
