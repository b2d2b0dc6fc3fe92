//! Property tests of checkpoints and run folders as a copy, an editor or a disk leaves them
//! (issue 27). Checkpoints: one
//! file of a real checkpoint (`latest`, `checksums.json`, `state.json`, `model.mpk`,
//! `optimizer.mpk`) with bytes flipped, inserted, deleted or cut, or replaced by arbitrary
//! bytes, with its checksums kept or removed (as an older version wrote it). Finding the
//! resume point and loading it give the checkpoint or a typed error naming a file of the
//! run; none panics; a damaged `latest` falls back to the intact folder. Run folders: the
//! config, `run.json` or `best.mpk` mutated; opening the run and loading its model give the
//! model or a typed error naming a file of the run.

#![allow(clippy::unwrap_used)] // Tests panic on failure by design.

use std::path::Path;

use fineface_model::{CpuAutodiff, ResNetConfig};
use fineface_train::{CHECKSUMS_FILE, Checkpoints, GroupedSgd, Method, RunFolder, build_baseline};
use proptest::prelude::*;

mod common;

#[path = "../../../tests/support/edits.rs"]
mod edits;

use common::tiny_config;
use edits::input;

/// The files of a checkpoint, relative to the run folder.
const FILES: [&str; 5] = [
    "checkpoints/latest",
    "checkpoints/epoch-001/checksums.json",
    "checkpoints/epoch-001/state.json",
    "checkpoints/epoch-001/model.mpk",
    "checkpoints/epoch-001/optimizer.mpk",
];

/// The files of a run folder that evaluating and predicting read, relative to it.
const RUN_FILES: [&str; 3] = ["config.toml", "run.json", "best.mpk"];

/// A tiny baseline run of one epoch, trained once for every case.
fn trained() -> &'static Path {
    common::trained_once(Method::Baseline)
}

/// Copies the run's checkpoints and model files into `to`.
fn copy_checkpoints(from: &Path, to: &Path) {
    for file in FILES.iter().chain(&RUN_FILES) {
        let target = to.join(file);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(from.join(file), target).unwrap();
    }
}

/// The checkpoint in `run` found and loaded into a fresh tiny baseline.
fn resume(run: &Path) -> Result<Option<u64>, String> {
    let point = Checkpoints::new(run)
        .resume_point()
        .map_err(|e| e.to_string())?;
    let Some(point) = point else {
        return Ok(None);
    };
    let config = tiny_config(Path::new("unused"), Method::Baseline);
    let device = Default::default();
    let backbone = ResNetConfig::resnet18()
        .with_width(4)
        .init::<CpuAutodiff>(&device);
    let model = build_baseline(2, backbone, &device);
    let optimizer = GroupedSgd::new(&config.train);
    Checkpoints::load(&point.path, model, optimizer, &device)
        .map(|(_, _, state)| Some(state.step))
        .map_err(|e| e.to_string())
}

/// One of `files` of the trained run, mutated.
fn mutated_file(files: &'static [&'static str]) -> impl Strategy<Value = (usize, Vec<u8>)> {
    (0..files.len()).prop_flat_map(move |i| {
        let valid = std::fs::read(trained().join(files[i])).unwrap();
        (Just(i), input(valid))
    })
}

proptest! {
    #![proptest_config(edits::config())]

    #[test]
    fn checkpoints((i, bytes) in mutated_file(&FILES), keep_checksums in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        copy_checkpoints(trained(), &run);
        std::fs::write(run.join(FILES[i]), &bytes).unwrap();
        if !keep_checksums {
            let _ = std::fs::remove_file(run.join("checkpoints/epoch-001").join(CHECKSUMS_FILE));
        }
        let resumed = resume(&run);
        // A damaged `latest` pointer leaves the intact checkpoint folder to resume from.
        if i == 0 {
            prop_assert!(matches!(resumed, Ok(Some(_))), "{resumed:?}");
        }
        match resumed {
            Ok(_) => {}
            Err(message) => prop_assert!(
                message.contains(run.to_str().unwrap()),
                "{}: {message}",
                FILES[i]
            ),
        }
    }
}

proptest! {
    #![proptest_config(edits::config())]

    /// What `eval` and `predict` read of a run: its config, `run.json` and `best.mpk`.
    #[test]
    fn run_folders((i, bytes) in mutated_file(&RUN_FILES)) {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        copy_checkpoints(trained(), &run);
        std::fs::write(run.join(RUN_FILES[i]), &bytes).unwrap();
        let device = Default::default();
        let opened = RunFolder::open(&run).and_then(|f| f.load_model::<CpuAutodiff>(&device));
        if let Err(e) = opened {
            let message = e.to_string();
            prop_assert!(message.contains(run.to_str().unwrap()), "{}: {message}", RUN_FILES[i]);
        }
    }
}

/// The unmutated copy loads: the property above is not passed by failing every time.
#[test]
fn the_checkpoint_as_written_loads() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    copy_checkpoints(trained(), &run);
    assert!(resume(&run).unwrap().is_some_and(|step| step > 0));
    let folder = RunFolder::open(&run).unwrap();
    assert!(
        folder
            .load_model::<CpuAutodiff>(&Default::default())
            .is_ok()
    );
}

/// A `config.toml` edited to another model since the run (a wider backbone, a deeper one):
/// its weights are named as not fitting, where Burn would panic or load misshapen tensors.
#[test]
fn weights_of_another_model_are_named_not_loaded() {
    for (from, to) in [("width = 4", "width = 8"), ("\"resnet18\"", "\"resnet34\"")] {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        copy_checkpoints(trained(), &run);
        let toml = run.join("config.toml");
        let text = std::fs::read_to_string(&toml).unwrap();
        assert!(text.contains(from), "{text}");
        std::fs::write(&toml, text.replacen(from, to, 1)).unwrap();
        let folder = RunFolder::open(&run).unwrap();
        let Err(e) = folder.load_model::<CpuAutodiff>(&Default::default()) else {
            panic!("{to}: loaded");
        };
        assert_eq!(
            e.to_string(),
            format!(
                "{}: its weights do not fit the model the run's config.toml describes (the \
                 backbone, widths or classes edited since it was written?)",
                run.join("best.mpk").display()
            )
        );
    }
}

/// A run whose dataset is no longer where its `config.toml` says (copied to another
/// machine): evaluating it on its own data names the config's key and `--data`.
#[test]
fn a_run_whose_dataset_moved_says_to_give_data() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    copy_checkpoints(trained(), &run);
    let toml = run.join("config.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    let start = text.find("[data]").unwrap();
    let end = text[start + 1..]
        .find("\n[")
        .map_or(text.len(), |i| start + 1 + i);
    let moved = format!(
        "{}[data]\nkind = \"manifest\"\nroot = \"{}\"\n{}",
        &text[..start],
        dir.path().join("gone").display(),
        &text[end..]
    );
    std::fs::write(&toml, moved).unwrap();
    let folder = RunFolder::open(&run).unwrap();
    let request = fineface_train::EvalRequest::new(fineface_train::EvalData::Own);
    let e = folder
        .evaluate::<CpuAutodiff>(&request, &Default::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!(
            "the run's dataset (data.root in {}) cannot be read",
            toml.display()
        )) && e.ends_with("give where it is here with --data"),
        "{e}"
    );
}
