//! Building the configured network.

use burn::module::Module;
use burn::tensor::backend::Backend;
use fineface_model::{
    ArchConfig, Backbone, Baseline, BaselineConfig, FineFace, FineFaceBackend, FineFaceConfig,
    ImageNetBackbone, MobileNetV2Config, ResNet, ResNetConfig,
};

use crate::config::{Method, ModelSettings};
use crate::error::{Result, TrainError};

/// The paper's FineFACE over a ResNet.
pub type FineFaceResNet<B> = FineFace<B, ResNet<B>>;
/// The baseline over a ResNet.
pub type BaselineResNet<B> = Baseline<B, ResNet<B>>;

/// The configured torchvision backbone, its family's settings applied (`model.width` for a
/// ResNet, `model.width_mult` for MobileNetV2). Each variant's `init` builds it.
#[derive(Debug)]
pub enum BackboneConfig {
    /// A ResNet.
    ResNet(ResNetConfig),
    /// MobileNetV2.
    MobileNetV2(MobileNetV2Config),
}

/// The backbone of the settings.
///
/// # Errors
/// [`TrainError::Unsupported`] for a custom backbone, which the program that defines it
/// builds, and for a width setting of the other family ([`ModelSettings::check_widths`]).
pub fn backbone_config(settings: &ModelSettings) -> Result<BackboneConfig> {
    settings.check_widths().map_err(TrainError::Unsupported)?;
    Ok(match settings.backbone.torchvision()?.config() {
        ArchConfig::ResNet(config) => BackboneConfig::ResNet(config.with_width(settings.width)),
        ArchConfig::MobileNetV2(config) => {
            BackboneConfig::MobileNetV2(config.with_width_mult(settings.width_mult))
        }
    })
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
            backbone: settings.backbone.to_string(),
            expected: settings.backbone.torchvision().map_or_else(
                |_| "a torchvision state_dict (.pth or .safetensors)".to_owned(),
                |arch| arch.torchvision_weights().to_owned(),
            ),
        }),
        _ => Ok(()),
    }
}

/// `backbone` with the settings' ImageNet weights loaded; without `weights` in the
/// settings (`--no-weights`) it trains from scratch, as asked.
///
/// # Errors
/// Configured weights that are absent ([`TrainError::MissingWeights`]) or that do not fit
/// the architecture.
pub(crate) fn pretrained<B: Backend, N: ImageNetBackbone<B>>(
    settings: &ModelSettings,
    mut backbone: N,
) -> Result<N> {
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

/// The model a [`Method`] builds over a backbone `N`: what [`build_model`] returns, for
/// training ([`train`](crate::train)) and for reading a run back
/// ([`RunFolder::load_model_over`](crate::RunFolder::load_model_over)) alike.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)] // Built, then matched into its model at once.
pub enum MethodModel<B: Backend, N: Module<B>> {
    /// FineFACE: three experts, their attention crops and the concat head.
    FineFace(FineFace<B, N>),
    /// The baseline: the backbone and one classifier.
    Baseline(Baseline<B, N>),
}

/// The model of `method` over `backbone`, with `n_classes` outputs: FineFACE with the
/// settings' head width ([`build_fineface`]) or the baseline ([`build_baseline`]).
pub fn build_model<B: FineFaceBackend, N: Backbone<B>>(
    method: Method,
    settings: &ModelSettings,
    n_classes: usize,
    backbone: N,
    device: &B::Device,
) -> MethodModel<B, N> {
    match method {
        Method::FineFace => {
            MethodModel::FineFace(build_fineface(settings, n_classes, backbone, device))
        }
        Method::Baseline => MethodModel::Baseline(build_baseline(n_classes, backbone, device)),
    }
}

/// FineFACE with the settings' heads on `backbone`.
pub fn build_fineface<B: FineFaceBackend, N: Backbone<B>>(
    settings: &ModelSettings,
    n_classes: usize,
    backbone: N,
    device: &B::Device,
) -> FineFace<B, N> {
    FineFaceConfig::new(n_classes)
        .with_head_width(settings.head_width)
        .init(backbone, device)
}

/// The baseline on `backbone`.
pub fn build_baseline<B: FineFaceBackend, N: Backbone<B>>(
    n_classes: usize,
    backbone: N,
    device: &B::Device,
) -> Baseline<B, N> {
    BaselineConfig::new(n_classes).init(backbone, device)
}
