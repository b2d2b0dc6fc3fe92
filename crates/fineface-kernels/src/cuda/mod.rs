//! CUDA without Burn's runtime: whether a device can run, asked of the driver
//! ([`devices`], [`check_device`]), and NCCL, the device-side sum between the nodes of a run
//! over several machines (behind [`NodeGroup`](crate::NodeGroup)).

mod device;
pub(crate) mod nccl;

pub use device::{CudaDevice, CudaUnavailable, check_device, devices};
