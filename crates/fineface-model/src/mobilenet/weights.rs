//! torchvision's MobileNetV2 state dict (`mobilenet_v2-b0353104.pth`) and our names.
//!
//! torchvision nests `Sequential`s where we name fields: `features.N.0`/`.1` of the first
//! and last layers are our `conv`/`bn`, and an inverted residual's `conv.0` ... `conv.3` are
//! `expand`, `depthwise`, `project` and `project_bn` (`features.1`, whose expansion ratio is
//! 1, has no `expand`: its `conv.0` ... `conv.2` are the other three). The classifier
//! `classifier.1` (after a dropout) is a [`Baseline`]'s `fc`.

use std::path::Path;

use burn::tensor::backend::Backend;

use super::mobilenet_v2::MobileNetV2;
use crate::baseline::Baseline;
use crate::error::Result;
use crate::resnet::{ImageNetBackbone, LoadReport, load_torchvision_weights};

/// Key rewrites from torchvision's MobileNetV2 names to ours, applied in order to each key.
const TORCHVISION_TO_OURS: [(&str, &str); 11] = [
    // features.1: depthwise (conv.0), projection (conv.1, conv.2).
    (r"^features\.1\.conv\.0\.", "features.1.depthwise."),
    (r"^features\.1\.conv\.1\.", "features.1.project."),
    (r"^features\.1\.conv\.2\.", "features.1.project_bn."),
    // features.2 ... features.17: expansion, depthwise, projection.
    (r"^features\.(\d+)\.conv\.0\.", "features.$1.expand."),
    (r"^features\.(\d+)\.conv\.1\.", "features.$1.depthwise."),
    (r"^features\.(\d+)\.conv\.2\.", "features.$1.project."),
    (r"^features\.(\d+)\.conv\.3\.", "features.$1.project_bn."),
    // Conv2dNormActivation's children, in blocks and in features.0 / features.18.
    (r"\.(expand|depthwise)\.0\.", ".$1.conv."),
    (r"\.(expand|depthwise)\.1\.", ".$1.bn."),
    (r"^features\.(\d+)\.0\.", "features.$1.conv."),
    (r"^features\.(\d+)\.1\.", "features.$1.bn."),
];

/// PyTorch's BatchNorm step counter; our BatchNorm has no such buffer.
const NUM_BATCHES_TRACKED: &str = r"num_batches_tracked$";

impl<B: Backend> ImageNetBackbone<B> for MobileNetV2<B> {
    /// Loads torchvision's ImageNet weights (`mobilenet_v2-b0353104.pth`, or the same
    /// tensors as `.safetensors`, any float type, a `module.` prefix allowed) into the
    /// backbone; the classifier's `classifier.*` tensors are ignored.
    fn load_torchvision(&mut self, path: &Path) -> Result<LoadReport> {
        load_torchvision_weights(
            self,
            path,
            &TORCHVISION_TO_OURS,
            &[NUM_BATCHES_TRACKED, r"^classifier\."],
        )
    }
}

impl<B: Backend> Baseline<B, MobileNetV2<B>> {
    /// Loads a whole torchvision MobileNetV2 classifier: `features` into the backbone and
    /// `classifier.1` into `fc` (which must have this model's number of classes: 1000 for
    /// the ImageNet weights).
    ///
    /// # Errors
    /// As [`ImageNetBackbone::load_torchvision`].
    pub fn load_torchvision(&mut self, path: &Path) -> Result<LoadReport> {
        let remaps: Vec<(&str, &str)> = TORCHVISION_TO_OURS
            .into_iter()
            .chain([
                (r"^features\.", "backbone.features."),
                (r"^classifier\.1\.", "fc."),
            ])
            .collect();
        load_torchvision_weights(self, path, &remaps, &[NUM_BATCHES_TRACKED])
    }
}
