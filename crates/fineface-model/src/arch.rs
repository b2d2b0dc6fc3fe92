//! The torchvision architectures this crate builds, parsed once from their names.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::mobilenet::MobileNetV2Config;
use crate::resnet::ResNetConfig;

/// ImageNet's per-channel mean of RGB in [0, 1]: torchvision's `Normalize` for every
/// ImageNet-pretrained classifier it ships.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet's per-channel standard deviation (see [`IMAGENET_MEAN`]).
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// The input normalisation a backbone expects: `(x / 255 - mean) / std` per RGB channel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalisation {
    /// Per-channel mean of RGB scaled to [0, 1].
    pub mean: [f32; 3],
    /// Per-channel standard deviation.
    pub std: [f32; 3],
}

impl Normalisation {
    /// ImageNet's ([`IMAGENET_MEAN`], [`IMAGENET_STD`]).
    pub const IMAGENET: Self = Self {
        mean: IMAGENET_MEAN,
        std: IMAGENET_STD,
    };
}

/// Which network family an architecture belongs to, with its configuration.
#[derive(Debug)]
pub enum ArchConfig {
    /// A ResNet (width 64 as in torchvision; [`ResNetConfig::with_width`] to change it).
    ResNet(ResNetConfig),
    /// MobileNetV2 (width multiplier 1; [`MobileNetV2Config::with_width_mult`] to change it).
    MobileNetV2(MobileNetV2Config),
}

/// A torchvision backbone architecture by name (`resnet18` ... `resnet152`,
/// `mobilenet_v2`): parsed once where a config or the command line names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum BackboneArch {
    /// ResNet-18 (basic blocks).
    ResNet18,
    /// ResNet-34 (basic blocks).
    ResNet34,
    /// ResNet-50 (bottlenecks; the paper's backbone).
    ResNet50,
    /// ResNet-101 (bottlenecks).
    ResNet101,
    /// ResNet-152 (bottlenecks).
    ResNet152,
    /// MobileNetV2 (inverted residuals).
    MobileNetV2,
}

impl BackboneArch {
    /// Every architecture, in the order error messages list them.
    pub const ALL: [Self; 6] = [
        Self::ResNet18,
        Self::ResNet34,
        Self::ResNet50,
        Self::ResNet101,
        Self::ResNet152,
        Self::MobileNetV2,
    ];

    /// torchvision's name (`torchvision.models.<name>`).
    pub fn name(self) -> &'static str {
        match self {
            Self::ResNet18 => "resnet18",
            Self::ResNet34 => "resnet34",
            Self::ResNet50 => "resnet50",
            Self::ResNet101 => "resnet101",
            Self::ResNet152 => "resnet152",
            Self::MobileNetV2 => "mobilenet_v2",
        }
    }

    /// The file name of torchvision's ImageNet weights (`IMAGENET1K_V1`), published under
    /// <https://download.pytorch.org/models/>.
    pub fn torchvision_weights(self) -> &'static str {
        match self {
            Self::ResNet18 => "resnet18-f37072fd.pth",
            Self::ResNet34 => "resnet34-b627a593.pth",
            Self::ResNet50 => "resnet50-0676ba61.pth",
            Self::ResNet101 => "resnet101-63fe2227.pth",
            Self::ResNet152 => "resnet152-394f9c45.pth",
            Self::MobileNetV2 => "mobilenet_v2-b0353104.pth",
        }
    }

    /// The normalisation the network's ImageNet weights were trained with (torchvision's
    /// `IMAGENET1K_V1` transforms): ImageNet's mean and std for every family here.
    pub fn normalisation(self) -> Normalisation {
        Normalisation::IMAGENET
    }

    /// The family and its torchvision configuration.
    pub fn config(self) -> ArchConfig {
        match self {
            Self::ResNet18 => ArchConfig::ResNet(ResNetConfig::resnet18()),
            Self::ResNet34 => ArchConfig::ResNet(ResNetConfig::resnet34()),
            Self::ResNet50 => ArchConfig::ResNet(ResNetConfig::resnet50()),
            Self::ResNet101 => ArchConfig::ResNet(ResNetConfig::resnet101()),
            Self::ResNet152 => ArchConfig::ResNet(ResNetConfig::resnet152()),
            Self::MobileNetV2 => ArchConfig::MobileNetV2(MobileNetV2Config::new()),
        }
    }

    /// Whether it is one of the ResNets.
    pub fn is_resnet(self) -> bool {
        matches!(self.config(), ArchConfig::ResNet(_))
    }
}

impl fmt::Display for BackboneArch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not one of [`BackboneArch::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown backbone `{name}` (expected one of: {})", BackboneArch::ALL.map(BackboneArch::name).join(", "))]
pub struct UnknownArch {
    /// The name given.
    pub name: String,
}

impl FromStr for BackboneArch {
    type Err = UnknownArch;

    /// Parses torchvision's name; `mobilenetv2` and `MobileNet_V2`-style spellings are
    /// accepted (case, underscores and hyphens do not matter).
    fn from_str(name: &str) -> Result<Self, UnknownArch> {
        let folded = name.trim().to_ascii_lowercase().replace(['_', '-'], "");
        Self::ALL
            .into_iter()
            .find(|arch| arch.name().replace('_', "") == folded)
            .ok_or_else(|| UnknownArch {
                name: name.to_owned(),
            })
    }
}

impl TryFrom<String> for BackboneArch {
    type Error = UnknownArch;

    fn try_from(name: String) -> Result<Self, UnknownArch> {
        name.parse()
    }
}

impl From<BackboneArch> for String {
    fn from(arch: BackboneArch) -> Self {
        arch.name().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_spellings_fold() {
        for arch in BackboneArch::ALL {
            assert_eq!(arch.name().parse::<BackboneArch>(), Ok(arch));
        }
        assert_eq!("MobileNet_V2".parse(), Ok(BackboneArch::MobileNetV2));
        assert_eq!("mobilenetv2".parse(), Ok(BackboneArch::MobileNetV2));
        assert_eq!("ResNet-50".parse(), Ok(BackboneArch::ResNet50));
        let err = "resnet5".parse::<BackboneArch>().unwrap_err().to_string();
        assert!(
            err.contains("`resnet5`") && err.contains("mobilenet_v2"),
            "{err}"
        );
    }
}
