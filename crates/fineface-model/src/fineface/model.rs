//! The whole FineFACE network.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use fineface_kernels::FineFaceBackend;

use super::attention::attention_map;
use super::classifier::{Classifier, ClassifierConfig};
use super::expert::{Expert, ExpertConfig};
use crate::backbone::Backbone;

/// Configuration of the FineFACE heads; the backbone is built separately and passed to
/// [`init`](FineFaceConfig::init).
#[derive(Config, Debug)]
pub struct FineFaceConfig {
    /// Number of classes of the attribute.
    pub n_classes: usize,
    /// Feature channels of each expert (1024 in the paper). Conv-block middle width and
    /// classifier hidden widths are half of it; the concat head reads `3 * head_width`.
    #[config(default = 1024)]
    pub head_width: usize,
}

/// FineFACE: a backbone, three expert heads on its stride-8/16/32 maps, and a classifier on
/// the concatenation of the experts' pooled features.
///
/// Generic over the [`Backbone`]; `FineFace<B, ResNet<B>>` is the paper's model.
#[derive(Module, Debug)]
pub struct FineFace<B: Backend, M: Module<B>> {
    /// The feature extractor.
    pub backbone: M,
    /// Expert on the stride-8 map (layer2).
    pub expert1: Expert<B>,
    /// Expert on the stride-16 map (layer3).
    pub expert2: Expert<B>,
    /// Expert on the stride-32 map (layer4).
    pub expert3: Expert<B>,
    /// Classifier on `[v_1, v_2, v_3]`.
    pub concat: Classifier<B>,
}

/// Everything one forward pass gives: four logits and the three experts' feature maps.
#[derive(Debug, Clone)]
pub struct FineFaceOutput<B: Backend> {
    /// Expert 1's logits, `[batch, n_classes]`.
    pub expert1: Tensor<B, 2>,
    /// Expert 2's logits.
    pub expert2: Tensor<B, 2>,
    /// Expert 3's logits.
    pub expert3: Tensor<B, 2>,
    /// The concat head's logits.
    pub concat: Tensor<B, 2>,
    /// `F_1`, detached, `[batch, head_width, h / 8, w / 8]`.
    pub map1: Tensor<B, 4>,
    /// `F_2`, detached, `[batch, head_width, h / 16, w / 16]`.
    pub map2: Tensor<B, 4>,
    /// `F_3`, detached, `[batch, head_width, h / 32, w / 32]`.
    pub map3: Tensor<B, 4>,
}

impl<B: Backend> FineFaceOutput<B> {
    /// The sum of the four logits.
    pub fn logit_sum(&self) -> Tensor<B, 2> {
        self.expert1.clone() + self.expert2.clone() + self.expert3.clone() + self.concat.clone()
    }
}

/// The three experts' attention maps, each `[batch, h_k, w_k]` at its own resolution.
#[derive(Debug, Clone)]
pub struct AttentionMaps<B: Backend> {
    /// Expert 1's map (stride 8).
    pub expert1: Tensor<B, 3>,
    /// Expert 2's map (stride 16).
    pub expert2: Tensor<B, 3>,
    /// Expert 3's map (stride 32).
    pub expert3: Tensor<B, 3>,
}

impl FineFaceConfig {
    /// Builds the heads, sized from the backbone's tap channels.
    pub fn init<B: Backend, M: Backbone<B>>(
        &self,
        backbone: M,
        device: &B::Device,
    ) -> FineFace<B, M> {
        let [c1, c2, c3] = backbone.tap_channels();
        let expert = |c| {
            ExpertConfig::new(c, self.n_classes)
                .with_features(self.head_width)
                .init(device)
        };
        FineFace {
            expert1: expert(c1),
            expert2: expert(c2),
            expert3: expert(c3),
            concat: ClassifierConfig::new(3 * self.head_width, self.head_width / 2, self.n_classes)
                .init(device),
            backbone,
        }
    }
}

impl<B: FineFaceBackend, M: Backbone<B>> FineFace<B, M> {
    /// backbone -> three taps -> three experts -> concat head.
    ///
    /// # Shapes
    /// - `images`: `[batch, 3, h, w]`
    pub fn forward(&self, images: Tensor<B, 4>) -> FineFaceOutput<B> {
        let taps = self.backbone.forward_features(images);
        let e1 = self.expert1.forward(taps.stride8); // F_1: [b, 1024, h/8, w/8]
        let e2 = self.expert2.forward(taps.stride16); // F_2: [b, 1024, h/16, w/16]
        let e3 = self.expert3.forward(taps.stride32); // F_3: [b, 1024, h/32, w/32]
        let pooled = Tensor::cat(vec![e1.pooled, e2.pooled, e3.pooled], 1); // [b, 3072]
        FineFaceOutput {
            concat: self.concat.forward(pooled),
            expert1: e1.logits,
            expert2: e2.logits,
            expert3: e3.logits,
            map1: e1.feature_map.detach(),
            map2: e2.feature_map.detach(),
            map3: e3.feature_map.detach(),
        }
    }

    /// Expert 1's logits alone: the backbone up to its stride-8 map, then expert 1. What
    /// expert 1's loss depends on, without the deeper layers or the other heads.
    ///
    /// # Shapes
    /// - `images`: `[batch, 3, h, w]`; output `[batch, n_classes]`
    pub fn forward_expert1(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        self.expert1
            .forward(self.backbone.forward_stride8(images))
            .logits
    }

    /// Expert 2's logits alone (the backbone up to its stride-16 map, then expert 2).
    pub fn forward_expert2(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        self.expert2
            .forward(self.backbone.forward_stride16(images))
            .logits
    }

    /// Each expert's attention map under its own prediction, with the classifier weights
    /// the model has now (after step 1's update, in training).
    pub fn attention_maps(&self, output: &FineFaceOutput<B>) -> AttentionMaps<B> {
        AttentionMaps {
            expert1: attention_map(
                output.map1.clone(),
                output.expert1.clone(),
                &self.expert1.classifier,
            ),
            expert2: attention_map(
                output.map2.clone(),
                output.expert2.clone(),
                &self.expert2.classifier,
            ),
            expert3: attention_map(
                output.map3.clone(),
                output.expert3.clone(),
                &self.expert3.classifier,
            ),
        }
    }
}
