//! Property tests of the weight reader (issue 27): a torchvision `.pth` (a zip of pickles)
//! and a safetensors file with bytes flipped, inserted, deleted or cut, and arbitrary bytes
//! under either extension, load or fail with a typed error naming the file; none panics.

#![allow(clippy::unwrap_used)] // Tests panic on failure by design.

use std::path::Path;

use burn::backend::Flex;
use fineface_model::{ImageNetBackbone, ResNetConfig};
use proptest::prelude::*;

mod common;

#[path = "../../../tests/support/edits.rs"]
mod edits;

use edits::{config, input};

/// Loads `bytes`, saved as `name`, into a ResNet-18 of width 4 (the goldens' size).
fn load(bytes: &[u8], name: &str) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let mut model = ResNetConfig::resnet18()
        .with_width(4)
        .init::<Flex>(&Default::default());
    if let Err(e) = model.load_torchvision(&path) {
        let message = e.to_string();
        prop_assert!(message.contains(name), "{message}");
    }
    Ok(())
}

fn golden(name: &str) -> Vec<u8> {
    std::fs::read(common::golden(name)).unwrap()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn pytorch_pickles(bytes in input(golden("resnet18_w4_bf16.pth"))) {
        load(&bytes, "weights.pth")?;
    }

    #[test]
    fn safetensors(bytes in input(golden("resnet18_w4_bf16.safetensors"))) {
        load(&bytes, "weights.safetensors")?;
    }
}

#[test]
fn the_untouched_goldens_load() {
    for name in ["resnet18_w4_bf16.pth", "resnet18_w4_bf16.safetensors"] {
        let path = common::golden(name);
        let mut model = ResNetConfig::resnet18()
            .with_width(4)
            .init::<Flex>(&Default::default());
        assert!(model.load_torchvision(Path::new(&path)).is_ok(), "{name}");
    }
}
