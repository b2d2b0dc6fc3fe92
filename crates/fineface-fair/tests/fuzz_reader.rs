//! Property tests of the predictions reader and the audit behind it (issue 27): on arbitrary
//! bytes and on a real predictions file with bytes flipped, inserted, deleted or cut, the
//! reader returns a table or a typed error naming the file, and whatever table it returns
//! is audited and rendered (JSON, markdown, long CSV) without a panic.

#![allow(clippy::unwrap_used)] // Tests panic on failure by design.

use std::path::Path;

use fineface_fair::{AuditOptions, BootstrapConfig, CsvSpec, SensitiveColumns, audit};
use proptest::prelude::*;

#[path = "../../../tests/support/edits.rs"]
mod edits;

use edits::{config, input};

/// The first lines of the demo predictions (FairFace's seven races x two genders).
fn demo() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/demo_predictions.csv"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let head: Vec<&str> = text.lines().take(24).collect();
    (head.join("\n") + "\n").into_bytes()
}

fn specs() -> [CsvSpec; 2] {
    [
        CsvSpec {
            sensitive: SensitiveColumns::Columns(vec!["race".into(), "gender".into()]),
            ..CsvSpec::default()
        },
        CsvSpec {
            sensitive: SensitiveColumns::Compound {
                column: "race".into(),
                feature_names: Vec::new(),
            },
            drop_missing: true,
            ..CsvSpec::default()
        },
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn predictions(bytes in input(demo())) {
        let path = Path::new("predictions.csv");
        for spec in specs() {
            match fineface_fair::read_predictions(bytes.as_slice(), path, &spec) {
                Err(e) => {
                    let message = e.to_string();
                    prop_assert!(message.contains("predictions.csv"), "{message}");
                }
                Ok(table) => {
                    for bootstrap in [None, Some(BootstrapConfig::new(40, 3))] {
                        let options = AuditOptions { pos_label: "Male".into(), bootstrap };
                        if let Ok(report) = audit(&table, &options) {
                            let _ = (report.to_json().unwrap(), report.to_markdown(), report.to_csv());
                        }
                    }
                }
            }
        }
    }
}
