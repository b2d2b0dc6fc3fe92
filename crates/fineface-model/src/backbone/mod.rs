//! What a FineFACE backbone is: anything that turns images into three feature maps.

mod base;

pub use base::{Backbone, BackboneFeatures};
