//! The FineFACE network: three expert heads on a backbone, and their concatenation.

mod attention;
mod classifier;
mod expert;
mod model;

pub use attention::attention_map;
pub use classifier::{Classifier, ClassifierConfig};
pub use expert::{ConvBlock, ConvBlockConfig, Expert, ExpertConfig, ExpertOutput};
pub use model::{AttentionMaps, FineFace, FineFaceConfig, FineFaceOutput};
