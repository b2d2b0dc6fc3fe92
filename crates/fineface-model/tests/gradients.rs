//! Backward passes reach exactly the parameters the FineFACE step order says they must.

#![allow(clippy::unwrap_used)] // Tests panic on failure by design.

use burn::backend::flex::FlexDevice;
use burn::backend::{Autodiff, Flex};
use burn::module::AutodiffModule;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::GradientsParams;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Distribution, Int, Tensor};
use fineface_model::{BaselineConfig, FineFace, FineFaceConfig, ResNet, ResNetConfig};

type A = Autodiff<Flex>;

fn tiny_model(device: &FlexDevice) -> FineFace<A, ResNet<A>> {
    let backbone = ResNetConfig::resnet18().with_width(4).init::<A>(device);
    FineFaceConfig::new(2)
        .with_head_width(8)
        .init(backbone, device)
}

fn batch(device: &FlexDevice) -> (Tensor<A, 4>, Tensor<A, 1, Int>) {
    let images = Tensor::random([4, 3, 64, 64], Distribution::Normal(0.0, 1.0), device);
    let targets = Tensor::from_data([0, 1, 1, 0], device);
    (images, targets)
}

/// Which trainable parameters of a module a backward pass reached.
struct Reach {
    /// Parameters with a registered gradient.
    reached: usize,
    /// Parameters whose gradient is non-zero somewhere.
    nonzero: usize,
    /// Trainable parameters of the module.
    total: usize,
}

/// "Reached" (a gradient was registered) is the property the step order is about; a reached
/// gradient can still be all zero in a tiny random network (a ReLU channel that is off for
/// the whole batch), so `nonzero` is only asked to be positive.
fn touched<M: AutodiffModule<A>>(
    grads: &mut <A as AutodiffBackend>::Gradients,
    module: &M,
) -> Reach {
    let params = GradientsParams::from_module(grads, module);
    let ids = module_param_ids(module);
    let norms: Vec<Option<f32>> = ids
        .iter()
        .map(|&id| {
            params
                .get::<Flex, 1>(id)
                .map(|g| g.abs().sum().into_scalar())
                .or_else(|| {
                    params
                        .get::<Flex, 2>(id)
                        .map(|g| g.abs().sum().into_scalar())
                })
                .or_else(|| {
                    params
                        .get::<Flex, 4>(id)
                        .map(|g| g.abs().sum().into_scalar())
                })
        })
        .collect();
    Reach {
        reached: norms.iter().filter(|n| n.is_some()).count(),
        nonzero: norms.iter().filter(|n| n.is_some_and(|v| v > 0.0)).count(),
        total: ids.len(),
    }
}

/// The trainable parameters of `module`.
fn module_param_ids<M: AutodiffModule<A>>(module: &M) -> Vec<burn::module::ParamId> {
    struct Ids(Vec<burn::module::ParamId>);
    impl burn::module::ModuleVisitor<A> for Ids {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<A, D>>) {
            // Running statistics are visited as parameters too, without requiring a gradient.
            if param.val().is_require_grad() {
                self.0.push(param.id);
            }
        }
    }
    let mut ids = Ids(Vec::new());
    module.visit(&mut ids);
    ids.0
}

#[test]
fn expert1_loss_reaches_layer2_and_its_head_only() {
    let device = Default::default();
    let model = tiny_model(&device);
    let (images, targets) = batch(&device);
    let out = model.forward(images);
    let loss = CrossEntropyLossConfig::new()
        .init(&device)
        .forward(out.expert1, targets);
    let mut grads = loss.backward();
    let b = &model.backbone;
    for (name, r) in [
        ("stem conv1", touched(&mut grads, &b.conv1)),
        ("layer1", touched(&mut grads, &b.layer1)),
        ("layer2", touched(&mut grads, &b.layer2)),
        ("expert1", touched(&mut grads, &model.expert1)),
    ] {
        assert!(
            r.nonzero > 0 && r.reached == r.total,
            "{name}: {} of {} params reached ({} non-zero)",
            r.reached,
            r.total,
            r.nonzero
        );
    }
    for (name, r) in [
        ("layer3", touched(&mut grads, &b.layer3)),
        ("layer4", touched(&mut grads, &b.layer4)),
        ("expert2", touched(&mut grads, &model.expert2)),
        ("expert3", touched(&mut grads, &model.expert3)),
        ("concat", touched(&mut grads, &model.concat)),
    ] {
        assert!(
            r.total > 0 && r.reached == 0,
            "{name}: {} of {} params reached",
            r.reached,
            r.total
        );
    }
}

#[test]
fn concat_loss_reaches_every_module_but_the_expert_classifiers() {
    let device = Default::default();
    let model = tiny_model(&device);
    let (images, targets) = batch(&device);
    let out = model.forward(images);
    let loss = CrossEntropyLossConfig::new()
        .init(&device)
        .forward(out.concat, targets);
    let mut grads = loss.backward();
    let b = &model.backbone;
    for (name, module_touched) in [
        ("layer1", touched(&mut grads, &b.layer1)),
        ("layer4", touched(&mut grads, &b.layer4)),
        (
            "expert3 conv block",
            touched(&mut grads, &model.expert3.conv_block),
        ),
        (
            "expert1 conv block",
            touched(&mut grads, &model.expert1.conv_block),
        ),
        ("concat", touched(&mut grads, &model.concat)),
    ] {
        let r = module_touched;
        assert!(
            r.reached == r.total && r.nonzero > 0,
            "{name}: {} of {} params reached ({} non-zero)",
            r.reached,
            r.total,
            r.nonzero
        );
    }
    // The experts' own classifiers read the pooled vectors but are not on the concat path.
    assert_eq!(touched(&mut grads, &model.expert2.classifier).reached, 0);
}

#[test]
fn attention_maps_carry_no_gradient() {
    let device = Default::default();
    let model = tiny_model(&device);
    let (images, targets) = batch(&device);
    let out = model.forward(images);
    let maps = model.attention_maps(&out);
    // Were the maps attached, this loss would reach expert 3's classifier (its weights build
    // the map) and its conv block; the concat loss alone reaches neither classifier.
    let ce = CrossEntropyLossConfig::new()
        .init(&device)
        .forward(out.concat, targets);
    let loss = ce + maps.expert3.sum() + maps.expert1.sum();
    let mut grads = loss.backward();
    assert_eq!(touched(&mut grads, &model.expert3.classifier).reached, 0);
    assert_eq!(touched(&mut grads, &model.expert1.classifier).reached, 0);
}

#[test]
fn baseline_backward_reaches_backbone_and_fc() {
    let device = Default::default();
    let backbone = ResNetConfig::resnet18().with_width(4).init::<A>(&device);
    let model = BaselineConfig::new(2).init(backbone, &device);
    let (images, targets) = batch(&device);
    let loss = CrossEntropyLossConfig::new()
        .init(&device)
        .forward(model.forward(images), targets);
    let mut grads = loss.backward();
    let r = touched(&mut grads, &model);
    assert!(r.reached == r.total && r.nonzero > 0);
}
