//! Choosing where to run: CPU (`Flex`) always, CUDA with the `cuda` feature.

use std::fmt;
use std::str::FromStr;

use crate::error::{ModelError, Result};

/// The CPU backend.
pub type Cpu = burn::backend::Flex;
/// The CPU backend with autodiff, for training.
pub type CpuAutodiff = burn::backend::Autodiff<Cpu>;
/// The CUDA backend.
#[cfg(feature = "cuda")]
pub type Cuda = burn::backend::Cuda;
/// The CUDA backend with autodiff, for training.
#[cfg(feature = "cuda")]
pub type CudaAutodiff = burn::backend::Autodiff<Cuda>;

/// A device named on the command line: `cpu`, `cuda` (= `cuda:0`) or `cuda:N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceSpec {
    /// The Flex CPU backend.
    Cpu,
    /// CUDA device N.
    Cuda(usize),
}

impl FromStr for DeviceSpec {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|i| i.parse().ok())
                .map(Self::Cuda)
                .ok_or_else(|| ModelError::UnknownDevice(s.to_owned())),
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => write!(f, "cpu"),
            Self::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

impl DeviceSpec {
    /// Checks that the device can run, without touching Burn's runtime: asking Burn for a
    /// CUDA device on a machine without a driver panics in a device thread, so the driver,
    /// its initialisation and the device count are probed first.
    pub fn check(self) -> Result<()> {
        match self {
            Self::Cpu => Ok(()),
            Self::Cuda(index) => check_cuda(index),
        }
    }
}

#[cfg(not(feature = "cuda"))]
fn check_cuda(index: usize) -> Result<()> {
    Err(ModelError::DeviceUnavailable {
        device: format!("cuda:{index}"),
        reason: "this build has no CUDA support; rebuild with `--features cuda`".to_owned(),
    })
}

/// The driver probe (`unsafe`: it loads the driver library) lives in the kernels crate.
#[cfg(feature = "cuda")]
fn check_cuda(index: usize) -> Result<()> {
    fineface_kernels::cuda::check_device(index).map_err(|reason| ModelError::DeviceUnavailable {
        device: format!("cuda:{index}"),
        reason: reason.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_device_names() {
        assert_eq!("cpu".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cpu);
        assert_eq!("cuda".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(0));
        assert_eq!("cuda:3".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(3));
        assert!("tpu".parse::<DeviceSpec>().is_err());
        assert!("cuda:x".parse::<DeviceSpec>().is_err());
        assert_eq!(DeviceSpec::Cuda(1).to_string(), "cuda:1");
    }

    #[cfg(feature = "cuda")]
    #[test]
    fn probing_cuda_never_panics() {
        // On a machine without a driver this is an error; with one, device 99 is absent.
        let error = DeviceSpec::Cuda(99).check().unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("device `cuda:99` is not usable"),
            "{error}"
        );
        let _ = DeviceSpec::Cuda(0).check();
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_is_an_error_not_a_panic() {
        let error = DeviceSpec::Cuda(0).check().unwrap_err();
        assert!(error.to_string().contains("--features cuda"), "{error}");
    }
}
