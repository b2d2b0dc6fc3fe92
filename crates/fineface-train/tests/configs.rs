//! Every experiment file the repository ships in `configs/` reads under today's schema
//! (`deny_unknown_fields`: a renamed key is an error here, not a surprise for a user).

use std::path::Path;

use fineface_train::ExperimentConfig;

#[test]
fn every_shipped_experiment_file_reads() {
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let mut read = Vec::new();
    for entry in std::fs::read_dir(&configs).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let config = ExperimentConfig::from_file(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(config.train.epochs >= 1, "{}", path.display());
            read.push(path.file_stem().unwrap().to_string_lossy().into_owned());
        }
    }
    read.sort();
    for expected in ["fairface", "gpu-resnet50", "synthface", "utkface-cpu"] {
        assert!(
            read.iter().any(|r| r == expected),
            "{expected} missing: {read:?}"
        );
    }
}
