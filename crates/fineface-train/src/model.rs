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

/// The backbone of the settings, randomly initialised.
pub fn build_backbone<B: FineFaceBackend>(
    settings: &ModelSettings,
    device: &B::Device,
) -> Result<ResNet<B>> {
    let config = ResNetConfig::from_arch(&settings.backbone)
        .ok_or_else(|| {
            TrainError::Unsupported(format!("unknown backbone `{}`", settings.backbone))
        })?
        .with_width(settings.width);
    Ok(config.init(device))
}

/// Loads the configured ImageNet weights into `backbone` for training. A configured file
/// that is absent is a warning and the backbone trains from scratch (the run still works, it
/// is just far from the paper's setting).
pub fn load_imagenet_weights<B: Backend>(
    backbone: &mut ResNet<B>,
    settings: &ModelSettings,
) -> Result<()> {
    match &settings.weights {
        Some(path) if path.is_file() => {
            let report = backbone.load_torchvision(path)?;
            tracing::info!(path = %path.display(), applied = report.applied, "loaded ImageNet weights");
        }
        Some(path) => tracing::warn!(
            "no ImageNet weights at {}: training {} from scratch. Download torchvision's \
             weights (resnet50: https://download.pytorch.org/models/resnet50-0676ba61.pth) \
             and pass --weights PATH",
            path.display(),
            settings.backbone
        ),
        None => tracing::warn!(
            "no ImageNet weights configured: training {} from scratch (pass --weights PATH \
             to a torchvision .pth or .safetensors file)",
            settings.backbone
        ),
    }
    Ok(())
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
