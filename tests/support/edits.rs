//! Inputs for the property tests of every crate's readers (issue 27), shared by
//! `#[path]`: arbitrary bytes, or a real file after the edits a bad copy, a bad editor or a
//! bad disk makes (bytes flipped, inserted, deleted, the file cut).

#![allow(dead_code)] // Each test crate uses what it needs.

use proptest::prelude::*;
use proptest::test_runner::Config;

/// One edit of a file: what a bad copy, a bad editor or a bad disk does.
#[derive(Debug, Clone)]
pub enum Edit {
    /// `bits` xor-ed into the byte at `at` (modulo the length).
    Flip { at: usize, bits: u8 },
    /// `byte` inserted before `at`.
    Insert { at: usize, byte: u8 },
    /// The byte at `at` removed.
    Delete { at: usize },
    /// Everything from `at` on removed.
    Truncate { at: usize },
}

/// Any one edit.
pub fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(at, bits)| Edit::Flip { at, bits }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Edit::Insert { at, byte }),
        any::<usize>().prop_map(|at| Edit::Delete { at }),
        any::<usize>().prop_map(|at| Edit::Truncate { at }),
    ]
}

/// `bytes` after `edits`, in order (positions taken modulo the length then).
pub fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let n = bytes.len().max(1);
        match *e {
            Edit::Flip { at, bits } if !bytes.is_empty() => bytes[at % n] ^= bits,
            Edit::Insert { at, byte } => bytes.insert(at % (bytes.len() + 1), byte),
            Edit::Delete { at } if !bytes.is_empty() => {
                bytes.remove(at % n);
            }
            Edit::Truncate { at } => bytes.truncate(at % (bytes.len() + 1)),
            _ => {}
        }
    }
    bytes
}

/// Arbitrary bytes, or `valid` with one to seven edits.
pub fn input(valid: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        proptest::collection::vec(edit(), 1..8).prop_map(move |edits| apply(valid.clone(), &edits)),
    ]
}

/// 256 cases a property (`PROPTEST_CASES=100000` for a longer campaign), no regression
/// files written into the source tree.
pub fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}
