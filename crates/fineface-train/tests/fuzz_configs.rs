//! Property tests of the experiment reader (issue 27): the shipped configs with bytes
//! flipped, inserted, deleted or cut, and arbitrary bytes, read into a validated config or
//! fail with a typed error naming the file; none panics.

#![allow(clippy::unwrap_used)] // Tests panic on failure by design.

use fineface_train::ExperimentConfig;
use proptest::prelude::*;

#[path = "../../../tests/support/edits.rs"]
mod edits;

use edits::{config, input};

fn shipped(name: &str) -> Vec<u8> {
    std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../configs/").to_owned() + name).unwrap()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn experiments(bytes in prop_oneof![
        input(shipped("synthface.toml")),
        input(shipped("fairface.toml")),
        input(shipped("utkface-mnv2.toml")),
    ]) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("experiment.toml");
        std::fs::write(&path, &bytes).unwrap();
        match ExperimentConfig::from_file_with(&path, &Default::default()) {
            Err(e) => {
                let message = e.to_string();
                prop_assert!(message.contains("experiment.toml"), "{message}");
            }
            // What reads must also write back and read again the same (`config.toml`).
            Ok(config) => {
                let text = config.to_toml().unwrap();
                std::fs::write(&path, text).unwrap();
                prop_assert_eq!(ExperimentConfig::from_file(&path).unwrap(), config);
            }
        }
    }
}
