//! The three networks of MTCNN (Zhang et al. 2016), with facenet-pytorch's module names so
//! that its state dicts load key for key.

mod layers;
mod onet;
mod pnet;
mod rnet;

pub use onet::{ONet, ONetOutput};
pub use pnet::{PNet, PNetOutput};
pub use rnet::{RNet, RNetOutput};
