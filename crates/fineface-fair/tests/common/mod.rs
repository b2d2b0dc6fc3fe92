//! Helpers shared by the integration tests.
#![allow(dead_code)] // Each test binary uses a subset of the helpers.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Folder of the fairlearn goldens written by `tools/fairlearn_goldens.py`.
pub const FAIRLEARN_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/fairlearn");

/// Path of a file in the goldens folder.
pub fn golden_path(name: &str) -> PathBuf {
    Path::new(FAIRLEARN_DIR).join(name)
}

/// Compares every leaf of `expected` with the value at the same path in `actual`: numbers
/// within `tolerance`, everything else exactly. Keys missing from `expected` are not checked;
/// keys missing from `actual` are mismatches. Returns one line per mismatch.
pub fn compare(expected: &Value, actual: &Value, tolerance: f64, path: &str) -> Vec<String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e
            .iter()
            .flat_map(|(key, ev)| match a.get(key) {
                Some(av) => compare(ev, av, tolerance, &format!("{path}.{key}")),
                None => vec![format!("{path}.{key}: missing (expected {ev})")],
            })
            .collect(),
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => e
            .iter()
            .zip(a)
            .enumerate()
            .flat_map(|(i, (ev, av))| compare(ev, av, tolerance, &format!("{path}[{i}]")))
            .collect(),
        (Value::Number(e), Value::Number(a)) => {
            let (e, a) = (
                e.as_f64().unwrap_or(f64::NAN),
                a.as_f64().unwrap_or(f64::NAN),
            );
            if (e - a).abs() <= tolerance {
                vec![]
            } else {
                vec![format!(
                    "{path}: expected {e}, got {a} (diff {:e})",
                    (e - a).abs()
                )]
            }
        }
        (e, a) if e == a => vec![],
        (e, a) => vec![format!("{path}: expected {e}, got {a}")],
    }
}
