//! The detector on Burn's wgpu backend (the CubeCL kernels CUDA runs too; Mesa's llvmpipe
//! in CI) against Flex, the reference backend: the same faces on real photos, boxes and
//! landmarks within a pixel, probabilities within 1e-3.
//!
//! `cargo test -p fineface-detect --features wgpu --test backends`.

#![cfg(feature = "wgpu")]
#![allow(clippy::unwrap_used)] // Tests panic on failure by design.

use std::path::Path;

use fineface_detect::{Face, MtcnnConfig, MtcnnWeights};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared");

fn coordinates(face: &Face) -> Vec<f32> {
    let b = face.bbox;
    let mut values = vec![b.x1, b.y1, b.x2, b.y2];
    values.extend(face.landmarks.points().iter().flat_map(|p| [p.x, p.y]));
    values
}

#[test]
fn wgpu_finds_the_faces_flex_finds() {
    let weights = MtcnnWeights::in_dir(&Path::new(SHARED).join("weights/mtcnn"));
    let flex = MtcnnConfig::new()
        .init::<burn::backend::Flex>(&weights, &Default::default())
        .unwrap();
    let device = fineface_model::wgpu_device(None).expect(
        "no wgpu adapter: install a Vulkan driver (Linux without a GPU: mesa-vulkan-drivers)",
    );
    let wgpu = MtcnnConfig::new()
        .init::<fineface_model::Wgpu>(&weights, &device)
        .unwrap();
    for name in ["2008_001322.jpg", "2008_001009.jpg"] {
        let photo = fineface_data::open_image(&Path::new(SHARED).join("data/photos").join(name))
            .unwrap()
            .to_rgb8();
        let (ours, reference) = (wgpu.detect(&photo), flex.detect(&photo));
        assert_eq!(ours.len(), reference.len(), "{name}: faces");
        for (a, b) in ours.iter().zip(&reference) {
            let apart = coordinates(a)
                .iter()
                .zip(coordinates(b))
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f32::max);
            assert!(apart <= 1.0, "{name}: a face {apart} px from Flex's");
            assert!((a.probability - b.probability).abs() <= 1e-3, "{name}");
        }
    }
}
