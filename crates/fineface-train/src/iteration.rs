//! One training iteration: FineFACE's five steps, or the baseline's one.
//!
//! A batch arrives as one [`Shard`] per device. Each step forwards every shard on a replica
//! of the model on its device, scales each shard's mean loss by its share of the batch (so
//! the summed gradients are the full batch's mean gradient), runs the backward passes, and
//! takes one optimiser step with the gradients of all devices. With one device this is the
//! plain loop.

use burn::module::{AutodiffModule, ModuleDisplay};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::backend::DeviceOps;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Int, Tensor};
use fineface_model::{
    AttentionCrop, Backbone, Baseline, FineFace, FineFaceAutodiffBackend, FineFaceOutput,
    attention_map,
};
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::config::Method;
use crate::error::{Result, TrainError};
use crate::optim::{GroupGradients, GroupedModule, GroupedSgd};
use crate::reducer::{GradientReducer, reduce_step};
use fineface_run::Loss;

/// A backbone that can be trained: a [`Backbone`] on the autodiff backend whose inner
/// (evaluation) module is a backbone too. Every Burn module implementing [`Backbone`]
/// generically over its backend is one.
pub trait TrainBackbone<B: AutodiffBackend>:
    Backbone<B>
    + ModuleDisplay
    + AutodiffModule<B, InnerModule: Backbone<B::InnerBackend> + ModuleDisplay>
{
}

impl<B, M> TrainBackbone<B> for M
where
    B: AutodiffBackend,
    M: Backbone<B> + ModuleDisplay + AutodiffModule<B>,
    M::InnerModule: Backbone<B::InnerBackend> + ModuleDisplay,
{
}

/// The part of a batch that lives on one device.
#[derive(Debug, Clone)]
pub struct Shard<B: AutodiffBackend> {
    /// Images, `[n, 3, h, w]`, outside the autodiff graph.
    pub images: Tensor<B::InnerBackend, 4>,
    /// Class indices, `[n]`.
    pub targets: Tensor<B, 1, Int>,
    /// The device both live on.
    pub device: B::Device,
}

impl<B: AutodiffBackend> Shard<B> {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.images.dims()[0]
    }

    /// Whether the shard is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Where an iteration is (for messages and the seeded crop-source choices) and how to run it.
#[derive(Debug, Clone, Copy)]
pub struct IterationContext {
    /// 0-based epoch.
    pub epoch: usize,
    /// 0-based batch within the epoch.
    pub batch: usize,
    /// The run's seed.
    pub seed: u64,
    /// Run the lean iteration (see [`fineface_step`]).
    pub lean: bool,
}

impl IterationContext {
    /// The sources of expert 2's step (one of crop 3, crop 1, the original) and of expert
    /// 1's step (one of crop 3, crop 2, the original), drawn once for the whole batch.
    pub fn crop_sources(&self) -> [CropSource; 2] {
        let mut rng = self.rng();
        let source2 = [
            CropSource::Expert3,
            CropSource::Expert1,
            CropSource::Original,
        ][rng.random_range(0..3)];
        let source1 = [
            CropSource::Expert3,
            CropSource::Expert2,
            CropSource::Original,
        ][rng.random_range(0..3)];
        [source2, source1]
    }

    /// The generator of this batch's random choices: a function of (seed, epoch, batch)
    /// only, so a resumed run draws the same.
    pub fn rng(&self) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(
            self.seed
                ^ (self.epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ (self.batch as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)
                ^ 0xC0FF_EE00,
        )
    }
}

/// Losses and training accuracy of one iteration.
#[derive(Debug, Clone, PartialEq)]
pub struct IterationLosses {
    /// `(name, mean loss)` of each step, in order.
    pub losses: Vec<(Loss, f64)>,
    /// Correct predictions of the step training accuracy is read from.
    pub correct: usize,
    /// Images in the batch.
    pub seen: usize,
    /// Which image source expert 2 and expert 1 were trained on (FineFACE only).
    pub sources: Option<[CropSource; 2]>,
}

/// The input of expert 2's and expert 1's steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CropSource {
    /// The original batch.
    Original,
    /// Crops from expert 1's map.
    Expert1,
    /// Crops from expert 2's map.
    Expert2,
    /// Crops from expert 3's map.
    Expert3,
}

/// A model the trainer can train: its iteration and its optimiser groups.
pub trait TrainStep<B: FineFaceAutodiffBackend>: GroupedModule<B> + Sized {
    /// The method this model trains with (recorded in the run folder).
    const METHOD: Method;

    /// The losses [`iteration`](TrainStep::iteration) reports, in order.
    const LOSSES: &'static [Loss];

    /// One training iteration over the shards of a batch; returns the updated model.
    /// Every optimiser step's gradients pass through `reducer` first ([`LocalReducer`]
    /// on one device, a collective one under [`DataParallel`](crate::DataParallel)).
    ///
    /// [`LocalReducer`]: crate::LocalReducer
    fn iteration(
        self,
        optimizer: &mut GroupedSgd<B, Self>,
        shards: &[Shard<B>],
        crop: &AttentionCrop,
        context: IterationContext,
        reducer: &mut dyn GradientReducer<B::InnerBackend>,
    ) -> Result<(Self, IterationLosses)>;
}

/// The output of one step on one shard.
struct ShardStep<O> {
    loss: f64,
    grads: GroupGradients,
    output: O,
}

/// A replica of `model` on `device` (the model itself when there is one shard).
fn replica<B: AutodiffBackend, M: AutodiffModule<B>>(model: &M, device: &B::Device, n: usize) -> M {
    if n == 1 {
        model.clone()
    } else {
        model.clone().fork(device)
    }
}

/// Where a step runs: the optimiser, the shards of the batch, the other workers and where
/// the iteration is.
struct StepPlace<'p, B: FineFaceAutodiffBackend, M: AutodiffModule<B>> {
    optimizer: &'p mut GroupedSgd<B, M>,
    shards: &'p [Shard<B>],
    reducer: &'p mut dyn GradientReducer<B::InnerBackend>,
    context: IterationContext,
}

/// Forward + backward on every shard with `loss_of`, then one optimiser step. With a
/// reducer that has other workers (one shard per worker), the step's loss and gradients are
/// first summed over every worker.
fn step_on_shards<B, M, O>(
    model: M,
    place: StepPlace<'_, B, M>,
    inputs: &[Tensor<B::InnerBackend, 4>],
    step: Loss,
    loss_of: impl Fn(&M, Tensor<B, 4>, Tensor<B, 1, Int>) -> (Tensor<B, 1>, O),
) -> Result<(M, f64, Vec<O>)>
where
    B: FineFaceAutodiffBackend,
    M: GroupedModule<B>,
{
    let StepPlace {
        optimizer,
        shards,
        reducer,
        context,
    } = place;
    let local: usize = shards.iter().map(Shard::len).sum();
    let global = reducer.batch_images();
    let total = global.unwrap_or(local);
    if global.is_some() && shards.len() != 1 {
        return Err(TrainError::Unsupported(format!(
            "a data-parallel worker runs one shard, not {}",
            shards.len()
        )));
    }
    let mut results = Vec::with_capacity(shards.len());
    for (shard, input) in shards.iter().zip(inputs) {
        let replica = replica(&model, &shard.device, shards.len());
        let (loss, output) = loss_of(
            &replica,
            Tensor::from_inner(input.clone()),
            shard.targets.clone(),
        );
        let loss = if shard.len() == total {
            loss
        } else {
            loss.mul_scalar(shard.len() as f64 / total as f64)
        };
        let (value, grads) = match global {
            // The loss is read after the all-reduce, so that every worker sees the batch's
            // and stops together on a non-finite one.
            Some(_) => {
                let share = loss.clone().inner();
                let mut grads = replica.split_gradients(loss.backward());
                let value = reduce_step(&replica, &mut grads, share, &mut *reducer)?;
                (value, grads)
            }
            None => {
                let value = loss.clone().into_scalar().elem::<f64>();
                (value, replica.split_gradients(loss.backward()))
            }
        };
        check_finite(value, step, context)?;
        results.push(ShardStep {
            loss: value,
            grads,
            output,
        });
    }
    let loss = results.iter().map(|r| r.loss).sum::<f64>();
    let mut grads = Vec::with_capacity(results.len());
    let mut outputs = Vec::with_capacity(results.len());
    for (result, shard) in results.into_iter().zip(shards) {
        grads.push((result.grads, shard.device.id()));
        outputs.push(result.output);
    }
    let model = optimizer.step(model, context.epoch, grads);
    Ok((model, loss, outputs))
}

fn check_finite(value: f64, step: Loss, context: IterationContext) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(TrainError::NonFiniteLoss {
            step,
            value,
            epoch: context.epoch + 1,
            batch: context.batch,
        })
    }
}

fn cross_entropy<B: Backend>(logits: Tensor<B, 2>, targets: Tensor<B, 1, Int>) -> Tensor<B, 1> {
    CrossEntropyLossConfig::new()
        .init(&logits.device())
        .forward(logits, targets)
}

impl<B: AutodiffBackend, M: TrainBackbone<B>> GroupedModule<B> for FineFace<B, M> {
    fn split_gradients(&self, mut grads: B::Gradients) -> GroupGradients {
        let backbone = burn::optim::GradientsParams::from_module(&mut grads, &self.backbone);
        GroupGradients {
            backbone,
            heads: burn::optim::GradientsParams::from_grads(grads, self),
        }
    }
}

impl<B: AutodiffBackend, M: TrainBackbone<B>> GroupedModule<B> for Baseline<B, M> {
    fn split_gradients(&self, mut grads: B::Gradients) -> GroupGradients {
        let backbone = burn::optim::GradientsParams::from_module(&mut grads, &self.backbone);
        GroupGradients {
            backbone,
            heads: burn::optim::GradientsParams::from_grads(grads, self),
        }
    }
}

/// One of the optimisation steps of a FineFACE iteration (step 2, the crops, has no
/// optimisation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FineFaceStep {
    /// Step 1: `CE(expert 3)`.
    Expert3,
    /// Step 3: `CE(expert 2)`.
    Expert2,
    /// Step 4: `CE(expert 1)`.
    Expert1,
    /// Step 5: `CE(e1) + CE(e2) + CE(e3) + 2 CE(concat)`.
    CropAll,
    /// Step 6: `2 CE(concat)`.
    Concat,
}

impl FineFaceStep {
    /// The steps in iteration order.
    pub const ALL: [Self; 5] = [
        Self::Expert3,
        Self::Expert2,
        Self::Expert1,
        Self::CropAll,
        Self::Concat,
    ];

    /// Its loss as logs and `metrics.csv` name it.
    pub fn loss_name(self) -> Loss {
        match self {
            Self::Expert3 => Loss::Expert3,
            Self::Expert2 => Loss::Expert2,
            Self::Expert1 => Loss::Expert1,
            Self::CropAll => Loss::CropAll,
            Self::Concat => Loss::Concat,
        }
    }

    /// The step's loss on one forward pass.
    pub fn loss<B: Backend>(
        self,
        out: &FineFaceOutput<B>,
        targets: Tensor<B, 1, Int>,
    ) -> Tensor<B, 1> {
        let ce = |logits: &Tensor<B, 2>| cross_entropy(logits.clone(), targets.clone());
        match self {
            Self::Expert3 => ce(&out.expert3),
            Self::Expert2 => ce(&out.expert2),
            Self::Expert1 => ce(&out.expert1),
            Self::CropAll => {
                ce(&out.expert1)
                    + ce(&out.expert2)
                    + ce(&out.expert3)
                    + ce(&out.concat).mul_scalar(2.0)
            }
            Self::Concat => ce(&out.concat).mul_scalar(2.0),
        }
    }
}

/// The forward pass of a step, outside the graph: logits and maps computed before the
/// step's update.
#[derive(Debug, Clone)]
pub struct StepForward<B: Backend> {
    /// Logits of expert 1, 2, 3 and the concat head.
    pub logits: [Tensor<B, 2>; 4],
    /// `F_1`, `F_2`, `F_3`.
    pub maps: [Tensor<B, 4>; 3],
}

/// One FineFACE optimisation step: forward `inputs` (one tensor per shard), the step's loss,
/// backward, one SGD step. Returns the updated model, the mean loss and each shard's forward.
///
/// With `context.lean`, expert 2's and expert 1's steps forward only what their loss
/// depends on (the backbone up to the expert's tap, and the expert): same loss, gradients
/// and update, but the BatchNorm running statistics of the skipped layers and heads are not
/// updated, and `forwards` is empty. Other steps always run in full.
pub fn fineface_step<B, M>(
    model: FineFace<B, M>,
    optimizer: &mut GroupedSgd<B, FineFace<B, M>>,
    shards: &[Shard<B>],
    inputs: &[Tensor<B::InnerBackend, 4>],
    step: FineFaceStep,
    context: IterationContext,
    reducer: &mut dyn GradientReducer<B::InnerBackend>,
) -> Result<StepResult<B, FineFace<B, M>>>
where
    B: FineFaceAutodiffBackend,
    M: TrainBackbone<B>,
{
    let lean = context.lean && matches!(step, FineFaceStep::Expert2 | FineFaceStep::Expert1);
    let place = StepPlace {
        optimizer,
        shards,
        reducer,
        context,
    };
    let (model, loss, forwards) =
        step_on_shards(model, place, inputs, step.loss_name(), |m, x, y| {
            if lean {
                let logits = if step == FineFaceStep::Expert2 {
                    m.forward_expert2(x)
                } else {
                    m.forward_expert1(x)
                };
                return (cross_entropy(logits, y), None);
            }
            let out = m.forward(x);
            let kept = StepForward {
                logits: [&out.expert1, &out.expert2, &out.expert3, &out.concat]
                    .map(|t| t.clone().inner()),
                maps: [&out.map1, &out.map2, &out.map3].map(|t| t.clone().inner()),
            };
            (step.loss(&out, y), Some(kept))
        })?;
    Ok(StepResult {
        model,
        loss,
        forwards: forwards.into_iter().flatten().collect(),
    })
}

/// What one optimisation step gives back.
pub struct StepResult<B: AutodiffBackend, M> {
    /// The updated model.
    pub model: M,
    /// The step's loss (mean over the batch).
    pub loss: f64,
    /// Each shard's forward pass (before the update), outside the graph.
    pub forwards: Vec<StepForward<B::InnerBackend>>,
}

/// The four crops of one shard.
#[derive(Debug, Clone)]
pub struct ShardCrops<B: Backend> {
    /// From expert 1's map.
    pub expert1: Tensor<B, 4>,
    /// From expert 2's map.
    pub expert2: Tensor<B, 4>,
    /// From expert 3's map.
    pub expert3: Tensor<B, 4>,
    /// From the combined map.
    pub combined: Tensor<B, 4>,
}

/// Step 2: the crops of `images` from a forward pass's maps and logits, under the expert
/// classifiers of `model` as they are now (after step 1's update). Nothing is differentiated.
pub fn fineface_crops<B, M>(
    model: &FineFace<B, M>,
    images: Tensor<B::InnerBackend, 4>,
    forward: StepForward<B::InnerBackend>,
    crop: &AttentionCrop,
) -> ShardCrops<B::InnerBackend>
where
    B: FineFaceAutodiffBackend,
    M: TrainBackbone<B>,
{
    let [l1, l2, l3, _] = forward.logits;
    let [f1, f2, f3] = forward.maps;
    let a1 = attention_map(f1, l1, &model.expert1.classifier.valid());
    let a2 = attention_map(f2, l2, &model.expert2.classifier.valid());
    let a3 = attention_map(f3, l3, &model.expert3.classifier.valid());
    let [expert1, expert2, expert3, combined] = crop.crops_all(images, [a1, a2, a3]);
    ShardCrops {
        expert1,
        expert2,
        expert3,
        combined,
    }
}

impl<B, M> TrainStep<B> for FineFace<B, M>
where
    B: FineFaceAutodiffBackend,
    M: TrainBackbone<B>,
{
    const METHOD: Method = Method::FineFace;
    const LOSSES: &'static [Loss] = &Loss::FINEFACE;

    /// The paper's iteration (`../shared/docs/FINEFACE.md`, "Training"), one line a stage.
    fn iteration(
        self,
        optimizer: &mut GroupedSgd<B, Self>,
        shards: &[Shard<B>],
        crop: &AttentionCrop,
        context: IterationContext,
        reducer: &mut dyn GradientReducer<B::InnerBackend>,
    ) -> Result<(Self, IterationLosses)> {
        let [source2, source1] = context.crop_sources();
        let mut stepper = Stepper::new(optimizer, shards, context, reducer);
        let x = stepper.originals();
        let expert3 = stepper.step(self, &x, FineFaceStep::Expert3)?;
        let crops = stepper.crops(&expert3.model, expert3.forwards, crop);
        let model = stepper
            .step(
                expert3.model,
                &crops.pick(source2, &x),
                FineFaceStep::Expert2,
            )?
            .model;
        let model = stepper
            .step(model, &crops.pick(source1, &x), FineFaceStep::Expert1)?
            .model;
        let model = stepper
            .step(model, &crops.combined(), FineFaceStep::CropAll)?
            .model;
        let concat = stepper.step(model, &x, FineFaceStep::Concat)?;
        // Training accuracy from step 6's concat logits (before its update).
        let correct = concat
            .forwards
            .iter()
            .zip(shards)
            .map(|(f, s)| correct_count(f.logits[3].clone(), s.targets.clone().inner()))
            .sum();
        let losses = stepper.losses;
        Ok((
            concat.model,
            IterationLosses {
                losses,
                correct,
                seen: shards.iter().map(Shard::len).sum(),
                sources: Some([source2, source1]),
            },
        ))
    }
}

/// What the steps of one FineFACE iteration share: the optimiser, the shards of the batch
/// and where the iteration is.
pub(crate) struct Stepper<'a, B: FineFaceAutodiffBackend, M: AutodiffModule<B>> {
    optimizer: &'a mut GroupedSgd<B, M>,
    shards: &'a [Shard<B>],
    context: IterationContext,
    reducer: &'a mut dyn GradientReducer<B::InnerBackend>,
    /// `(step's loss, mean loss)` of each step taken, in order.
    pub losses: Vec<(Loss, f64)>,
}

impl<'a, B, M> Stepper<'a, B, FineFace<B, M>>
where
    B: FineFaceAutodiffBackend,
    M: TrainBackbone<B>,
{
    /// The steps of one iteration over `shards`, each step's gradients summed over the
    /// workers by `reducer` ([`LocalReducer`](crate::LocalReducer) on one device).
    pub fn new(
        optimizer: &'a mut GroupedSgd<B, FineFace<B, M>>,
        shards: &'a [Shard<B>],
        context: IterationContext,
        reducer: &'a mut dyn GradientReducer<B::InnerBackend>,
    ) -> Self {
        Self {
            optimizer,
            shards,
            context,
            reducer,
            losses: Vec::with_capacity(FineFaceStep::ALL.len()),
        }
    }

    /// The original images, one tensor per shard.
    pub fn originals(&self) -> Vec<Tensor<B::InnerBackend, 4>> {
        self.shards.iter().map(|s| s.images.clone()).collect()
    }

    /// One optimisation step of `model` on `inputs` (see [`fineface_step`]); its loss is
    /// recorded in [`losses`](Stepper::losses). Take `.model` of the result where the
    /// forwards are not needed, so that their feature maps are freed at once.
    ///
    /// # Errors
    /// [`TrainError::NonFiniteLoss`] when the step's loss is not finite.
    pub fn step(
        &mut self,
        model: FineFace<B, M>,
        inputs: &[Tensor<B::InnerBackend, 4>],
        step: FineFaceStep,
    ) -> Result<StepResult<B, FineFace<B, M>>> {
        let shards = self.shards;
        let result = fineface_step(
            model,
            self.optimizer,
            shards,
            inputs,
            step,
            self.context,
            &mut *self.reducer,
        )?;
        self.losses.push((step.loss_name(), result.loss));
        Ok(result)
    }

    /// Step 2: each shard's attention crops from a step's forward passes (made before its
    /// update) under the expert classifiers of `model`, the model that step left. The
    /// forwards are consumed: their feature maps are freed once the crops exist.
    pub fn crops(
        &self,
        model: &FineFace<B, M>,
        forwards: Vec<StepForward<B::InnerBackend>>,
        crop: &AttentionCrop,
    ) -> BatchCrops<B::InnerBackend> {
        let n = self.shards.len();
        BatchCrops(
            self.shards
                .iter()
                .zip(forwards)
                .map(|(shard, forward)| {
                    let local = replica(model, &shard.device, n);
                    fineface_crops(&local, shard.images.clone(), forward, crop)
                })
                .collect(),
        )
    }
}

/// The crops of every shard of a batch.
#[derive(Debug, Clone)]
pub(crate) struct BatchCrops<B: Backend>(pub Vec<ShardCrops<B>>);

impl<B: Backend> BatchCrops<B> {
    /// The images of `source` per shard (`originals` for [`CropSource::Original`]).
    pub fn pick(&self, source: CropSource, originals: &[Tensor<B, 4>]) -> Vec<Tensor<B, 4>> {
        self.0
            .iter()
            .zip(originals)
            .map(|(c, x)| match source {
                CropSource::Original => x.clone(),
                CropSource::Expert1 => c.expert1.clone(),
                CropSource::Expert2 => c.expert2.clone(),
                CropSource::Expert3 => c.expert3.clone(),
            })
            .collect()
    }

    /// The combined crops per shard (step 5's input).
    pub fn combined(&self) -> Vec<Tensor<B, 4>> {
        self.0.iter().map(|c| c.combined.clone()).collect()
    }
}

/// Number of rows of `logits` whose argmax is the target.
fn correct_count<B: Backend>(logits: Tensor<B, 2>, targets: Tensor<B, 1, Int>) -> usize {
    let n = targets.dims()[0];
    logits
        .argmax(1)
        .reshape([n])
        .equal(targets)
        .int()
        .sum()
        .into_scalar()
        .elem::<i64>() as usize
}

impl<B, M> TrainStep<B> for Baseline<B, M>
where
    B: FineFaceAutodiffBackend,
    M: TrainBackbone<B>,
{
    const METHOD: Method = Method::Baseline;
    const LOSSES: &'static [Loss] = &Loss::BASELINE;

    fn iteration(
        self,
        optimizer: &mut GroupedSgd<B, Self>,
        shards: &[Shard<B>],
        _crop: &AttentionCrop,
        context: IterationContext,
        reducer: &mut dyn GradientReducer<B::InnerBackend>,
    ) -> Result<(Self, IterationLosses)> {
        let inputs: Vec<_> = shards.iter().map(|s| s.images.clone()).collect();
        let place = StepPlace {
            optimizer,
            shards,
            reducer,
            context,
        };
        let (model, loss, correct) =
            step_on_shards(self, place, &inputs, Loss::CrossEntropy, |m, x, y| {
                let logits = m.forward(x);
                let kept = (logits.clone().inner(), y.clone().inner());
                (cross_entropy(logits, y), kept)
            })?;
        let correct = correct
            .into_iter()
            .map(|(logits, targets)| correct_count(logits, targets))
            .sum();
        Ok((
            model,
            IterationLosses {
                losses: vec![(Loss::CrossEntropy, loss)],
                correct,
                seen: shards.iter().map(Shard::len).sum(),
                sources: None,
            },
        ))
    }
}
