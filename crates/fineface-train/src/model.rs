//! Building the configured network.

use burn::tensor::backend::Backend;
use fineface_model::{
    Baseline, BaselineConfig, FineFace, FineFaceBackend, FineFaceConfig, ResNet, ResNetConfig,
};

use crate::config::ModelSettings;
use crate::error::{Result, TrainError};

/// The paper's FineFACE over a ResNet.
pub type FineFaceResNet<B> = FineFace<B, ResNet<B>>;
/// The baseline over a ResNet.
pub type BaselineResNet<B> = Baseline<B, ResNet<B>>;

/// torchvision's ImageNet weights file of each ResNet (the `IMAGENET1K_V1` weights the
/// paper's ResNet-50 starts from), published under <https://download.pytorch.org/models/>.
pub const TORCHVISION_WEIGHTS: [(&str, &str); 5] = [
    ("resnet18", "resnet18-f37072fd.pth"),
    ("resnet34", "resnet34-b627a593.pth"),
    ("resnet50", "resnet50-0676ba61.pth"),
    ("resnet101", "resnet101-63fe2227.pth"),
    ("resnet152", "resnet152-394f9c45.pth"),
];

/// The ResNet of the settings (`backbone` and `width`).
///
/// # Errors
/// [`TrainError::Unsupported`] naming the accepted architectures for another name.
pub fn resnet_config(settings: &ModelSettings) -> Result<ResNetConfig> {
    Ok(ResNetConfig::from_arch(&settings.backbone)
        .ok_or_else(|| {
            TrainError::Unsupported(format!(
                "unknown backbone `{}` (resnet18, resnet34, resnet50, resnet101, resnet152; \
                 any other network trains through `Trainer::fit`, see \
                 examples/custom_backbone.rs)",
                settings.backbone
            ))
        })?
        .with_width(settings.width))
}

/// The ResNet backbone of the settings, randomly initialised.
///
/// # Errors
/// An unknown architecture (see [`resnet_config`]).
pub fn build_backbone<B: FineFaceBackend>(
    settings: &ModelSettings,
    device: &B::Device,
) -> Result<ResNet<B>> {
    Ok(resnet_config(settings)?.init(device))
}

/// Checks that configured ImageNet weights exist, before anything is trained: a mistyped
/// path must not silently turn a run into training from scratch.
///
/// # Errors
/// [`TrainError::MissingWeights`] naming the path and the torchvision file expected for the
/// backbone.
pub fn check_imagenet_weights(settings: &ModelSettings) -> Result<()> {
    match &settings.weights {
        Some(path) if !path.is_file() => Err(TrainError::MissingWeights {
            path: path.clone(),
            backbone: settings.backbone.clone(),
            expected: TORCHVISION_WEIGHTS
                .iter()
                .find(|(arch, _)| *arch == settings.backbone)
                .map_or(
                    "a torchvision state_dict (.pth or .safetensors)",
                    |(_, file)| file,
                )
                .to_owned(),
        }),
        _ => Ok(()),
    }
}

/// The ResNet backbone of the settings with its configured ImageNet weights loaded; without
/// `weights` in the settings (`--no-weights`) it trains from scratch, as asked.
///
/// # Errors
/// An unknown architecture, configured weights that are absent
/// ([`TrainError::MissingWeights`]) or that do not fit the architecture.
pub fn build_pretrained_backbone<B: FineFaceBackend>(
    settings: &ModelSettings,
    device: &B::Device,
) -> Result<ResNet<B>> {
    let mut backbone = build_backbone(settings, device)?;
    check_imagenet_weights(settings)?;
    match &settings.weights {
        Some(path) => {
            let report = backbone.load_torchvision(path)?;
            tracing::info!(path = %path.display(), applied = report.applied, "loaded ImageNet weights");
        }
        None => tracing::info!(
            backbone = %settings.backbone,
            "no ImageNet weights configured: training the backbone from scratch"
        ),
    }
    Ok(backbone)
}

/// Draws every lazily initialised parameter of `module` now. Burn initialises a parameter
/// on first use, so without this two clones of a fresh model would draw different weights,
/// and a seeded model's weights would depend on what else draws from the backend's
/// generator before its first forward pass.
pub fn initialise_parameters<B: Backend, M: burn::module::Module<B>>(module: &M) {
    struct Touch;
    impl<B: Backend> burn::module::ModuleVisitor<B> for Touch {
        fn visit_float<const D: usize>(
            &mut self,
            param: &burn::module::Param<burn::tensor::Tensor<B, D>>,
        ) {
            let _ = param.val();
        }
    }
    module.visit(&mut Touch);
}

/// FineFACE with the settings' heads on `backbone`.
pub fn build_fineface<B: FineFaceBackend>(
    settings: &ModelSettings,
    n_classes: usize,
    backbone: ResNet<B>,
    device: &B::Device,
) -> FineFaceResNet<B> {
    FineFaceConfig::new(n_classes)
        .with_head_width(settings.head_width)
        .init(backbone, device)
}

/// The baseline on `backbone`.
pub fn build_baseline<B: FineFaceBackend>(
    n_classes: usize,
    backbone: ResNet<B>,
    device: &B::Device,
) -> BaselineResNet<B> {
    BaselineConfig::new(n_classes).init(backbone, device)
}
