//! Our SGD ([`FusedSgd`], one op per parameter update) against Burn's `Sgd` with the same
//! settings: the same parameters to the bit over several steps, and a checkpoint written by
//! Burn's optimiser resumes in ours.

#![allow(clippy::unwrap_used)] // Tests panic on failure by design.

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::{Linear, LinearConfig};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, Optimizer, SgdConfig};
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use burn::tensor::{Tensor, TensorData};
use fineface_model::CpuAutodiff;
use fineface_train::FusedSgd;

type A = CpuAutodiff;

const MOMENTUM: f64 = 0.9;
const WEIGHT_DECAY: f32 = 5e-4;

/// A layer with more weights (300 x 200) than one parallel piece of the Flex kernel holds.
fn layer() -> Linear<A> {
    LinearConfig::new(300, 200).init(&Default::default())
}

fn burns_sgd() -> impl Optimizer<Linear<A>, A> {
    SgdConfig::new()
        .with_momentum(Some(MomentumConfig {
            momentum: MOMENTUM,
            dampening: 0.0,
            nesterov: false,
        }))
        .with_weight_decay(Some(WeightDecayConfig::new(WEIGHT_DECAY)))
        .init()
}

fn fused_sgd() -> burn::optim::adaptor::OptimizerAdaptor<FusedSgd, Linear<A>, A> {
    FusedSgd {
        momentum: MOMENTUM,
        dampening: 0.0,
        weight_decay: WEIGHT_DECAY,
    }
    .init()
}

/// The gradients of a loss of `layer` on a batch that depends on `step` (computed, not drawn:
/// the tests run in parallel and Burn's seed is global).
fn gradients(layer: &Linear<A>, step: u64) -> GradientsParams {
    let values = (0..4 * 300)
        .map(|i| ((i as f32) * 0.37 + step as f32).sin())
        .collect::<Vec<_>>();
    let x = Tensor::<A, 2>::from_data(TensorData::new(values, [4, 300]), &Default::default());
    let loss = layer.forward(x).powi_scalar(2).mean();
    GradientsParams::from_grads(loss.backward(), layer)
}

/// Every parameter's values, in visiting order.
fn values(layer: &Linear<A>) -> Vec<Vec<f32>> {
    struct Collect(Vec<Vec<f32>>);
    impl ModuleVisitor<A> for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<A, D>>) {
            self.0.push(param.val().into_data().to_vec().unwrap());
        }
    }
    let mut collect = Collect(Vec::new());
    layer.visit(&mut collect);
    collect.0
}

#[test]
fn fused_sgd_updates_parameters_as_burns_sgd_does_to_the_bit() {
    let (mut burn, mut ours) = (burns_sgd(), fused_sgd());
    let mut by_burn = layer();
    // Drawn before the clone (Burn initialises parameters lazily).
    let initial = values(&by_burn);
    let mut by_ours = by_burn.clone();
    for step in 0..4 {
        let lr = [0.1, 0.05, 0.02, 0.3][step as usize];
        let grads = gradients(&by_burn, step);
        by_burn = burn.step(lr, by_burn, grads);
        let grads = gradients(&by_ours, step);
        by_ours = ours.step(lr, by_ours, grads);
        assert!(values(&by_ours) == values(&by_burn), "step {step} differs");
    }
    assert!(values(&by_ours) != initial, "the steps moved nothing");
}

#[test]
fn a_checkpoint_of_burns_sgd_resumes_in_fused_sgd() {
    let mut burn = burns_sgd();
    let mut model = layer();
    for step in 0..2 {
        let grads = gradients(&model, step);
        model = burn.step(0.1, model, grads);
    }
    let recorder = NamedMpkBytesRecorder::<FullPrecisionSettings>::new();
    let bytes = recorder.record(burn.to_record(), ()).unwrap();
    let record = recorder.load(bytes, &Default::default()).unwrap();
    let mut ours = fused_sgd().load_record(record);

    let grads = gradients(&model, 2);
    let by_burn = burn.step(0.1, model.clone(), grads);
    let grads = gradients(&model, 2);
    let by_ours = ours.step(0.1, model, grads);
    assert!(
        values(&by_ours) == values(&by_burn),
        "the momentum buffers did not come through"
    );
}
