//! The FineFACE network: three expert heads on a backbone, and their concatenation.

mod attention;
mod classifier;
mod crop;
mod expert;
mod model;
mod predict;

pub use attention::attention_map;
pub use classifier::{Classifier, ClassifierConfig};
pub use crop::{AttentionCrop, AttentionCropConfig, CropBoxes};
pub use expert::{ConvBlock, ConvBlockConfig, Expert, ExpertConfig, ExpertOutput};
pub use model::{AttentionMaps, FineFace, FineFaceConfig, FineFaceOutput};
pub use predict::{Attention, HeadLogits, Predict, argmax};
