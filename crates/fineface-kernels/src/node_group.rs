//! The sum between the nodes of a run over several machines on the devices themselves: a
//! communicator of one process per node (NCCL on CUDA), so that a bucket of gradients goes
//! from GPU to GPU without a copy through host memory.
//!
//! A backend that has one says so with [`FineFaceBackend::device_collective`]; the nodes
//! then join a [`NodeGroup`] with [`FineFaceBackend::node_group`], from a [`NodeGroupId`]
//! that node 0 makes and sends to the others over the host link (fineface-train's MPI
//! link), and sum through [`FineFaceBackend::node_all_reduce_sum`]. A backend without one
//! (the defaults) sums through host memory.
//!
//! [`FineFaceBackend::device_collective`]: crate::FineFaceBackend::device_collective
//! [`FineFaceBackend::node_group`]: crate::FineFaceBackend::node_group
//! [`FineFaceBackend::node_all_reduce_sum`]: crate::FineFaceBackend::node_all_reduce_sum

use std::time::Duration;

/// A device-side collective library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceCollective {
    /// NVIDIA's NCCL, between CUDA devices (loaded at run time as `libnccl.so`).
    Nccl,
}

impl DeviceCollective {
    /// The library's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Nccl => "NCCL",
        }
    }

    /// Loads the library and returns its version.
    ///
    /// # Errors
    /// [`NodeGroupError::NoLibrary`] where it is not found, [`NodeGroupError::NotBuilt`] in a
    /// build without the backend that uses it (NCCL: the `cuda` feature).
    pub fn load(self) -> Result<CollectiveVersion, NodeGroupError> {
        match self {
            #[cfg(feature = "cuda")]
            Self::Nccl => Ok(CollectiveVersion {
                collective: self,
                code: crate::cuda::nccl::load()?,
            }),
            #[cfg(not(feature = "cuda"))]
            Self::Nccl => Err(NodeGroupError::NotBuilt {
                collective: self,
                feature: "cuda",
            }),
        }
    }
}

/// A loaded collective library's version; shows as `NCCL 2.21.5`. The nodes of a group must
/// load the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CollectiveVersion {
    /// The library.
    pub collective: DeviceCollective,
    /// Its version code: `major * 10000 + minor * 100 + patch` (NCCL's `NCCL_VERSION_CODE`
    /// since 2.9).
    pub code: u32,
}

impl std::fmt::Display for CollectiveVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (major, minor, patch) = (self.code / 10000, self.code / 100 % 100, self.code % 100);
        write!(f, "{} {major}.{minor}.{patch}", self.collective.name())
    }
}

/// What names a group: NCCL's `ncclUniqueId`, 128 bytes that hold node 0's address for the
/// group's bootstrap. Node 0 makes it ([`NodeGroupId::new`]) and sends [`Self::bytes`] to
/// the others, who rebuild it with [`NodeGroupId::from_bytes`].
#[derive(Clone, PartialEq, Eq)]
pub struct NodeGroupId {
    collective: DeviceCollective,
    bytes: [u8; NodeGroupId::LEN],
}

impl NodeGroupId {
    /// Bytes in an id (NCCL's `NCCL_UNIQUE_ID_BYTES`).
    pub const LEN: usize = 128;

    /// A new id for a group of `collective` (one per group: node 0 makes it).
    ///
    /// # Errors
    /// The library's load errors ([`DeviceCollective::load`]) and
    /// [`NodeGroupError::Failed`] when it cannot make an id (`ncclGetUniqueId`: no network
    /// interface it can use).
    pub fn new(collective: DeviceCollective) -> Result<Self, NodeGroupError> {
        match collective {
            #[cfg(feature = "cuda")]
            DeviceCollective::Nccl => Ok(Self {
                collective,
                bytes: crate::cuda::nccl::unique_id()?,
            }),
            #[cfg(not(feature = "cuda"))]
            DeviceCollective::Nccl => Err(NodeGroupError::NotBuilt {
                collective,
                feature: "cuda",
            }),
        }
    }

    /// The id node 0 made, from the bytes it sent.
    pub fn from_bytes(collective: DeviceCollective, bytes: [u8; Self::LEN]) -> Self {
        Self { collective, bytes }
    }

    /// The bytes to send to the other nodes.
    pub fn bytes(&self) -> &[u8; Self::LEN] {
        &self.bytes
    }

    /// The library the group is of.
    pub fn collective(&self) -> DeviceCollective {
        self.collective
    }
}

impl std::fmt::Debug for NodeGroupId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeGroupId")
            .field("collective", &self.collective)
            .finish_non_exhaustive()
    }
}

/// This process's member of a device-side group between nodes: made by
/// [`FineFaceBackend::node_group`](crate::FineFaceBackend::node_group), summed through by
/// [`FineFaceBackend::node_all_reduce_sum`](crate::FineFaceBackend::node_all_reduce_sum).
/// Dropping it leaves the group (`ncclCommDestroy`); [`NodeGroup::abort`] leaves it after an
/// error.
#[derive(Debug)]
pub struct NodeGroup {
    pub(crate) nodes: usize,
    pub(crate) rank: usize,
    #[cfg(feature = "cuda")]
    pub(crate) nccl: crate::cuda::nccl::Nccl,
}

impl NodeGroup {
    /// Processes in the group.
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// This process's rank in it, from 0.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// Leaves the group at once, stopping whatever it runs, without waiting for the other
    /// nodes (`ncclCommAbort`): after an error, where leaving it as dropping it does
    /// (`ncclCommDestroy`) could wait for a node that is gone. Later sums are refused
    /// ([`NodeGroupError::Aborted`]).
    pub fn abort(&mut self) {
        #[cfg(feature = "cuda")]
        self.nccl.abort();
    }
}

/// Why a device-side group could not be made or could not sum.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NodeGroupError {
    /// The backend has no device-side collective: sum through host memory.
    #[error("this backend sums between nodes through host memory only")]
    Unsupported,
    /// The library is not in this build.
    #[error("{} needs the `{feature}` feature, which this build lacks", collective.name())]
    NotBuilt {
        /// The library asked for.
        collective: DeviceCollective,
        /// The cargo feature that brings it.
        feature: &'static str,
    },
    /// The library cannot be loaded.
    #[error(
        "{library} is not found (searched as {searched}): install {} with the link \
         libnccl.so (Debian's libnccl-dev, or a cluster's nccl module; beside the \
         libnccl.so.2 of libnccl2 or PyTorch's nvidia-nccl-cu12 wheel, make it with `ln -s \
         libnccl.so.2 libnccl.so`) and put its folder on LD_LIBRARY_PATH",
        collective.name()
    )]
    NoLibrary {
        /// The library asked for.
        collective: DeviceCollective,
        /// Its file name.
        library: &'static str,
        /// The names it was searched under.
        searched: String,
    },
    /// A call of the library or the driver failed.
    #[error("{call} failed: {message}")]
    Failed {
        /// The function that failed (`ncclCommInitRank`).
        call: &'static str,
        /// Its error.
        message: String,
    },
    /// A sum did not complete within the timeout; the group was aborted.
    #[error(
        "the device sum did not complete within {} s (a node stopped or was cut off in the \
         middle): the group is aborted",
        timeout.as_secs()
    )]
    Stalled {
        /// How long it waited.
        timeout: Duration,
    },
    /// The bucket is not on the group's device.
    #[error("the bucket is on device {bucket}, the group on device {group}")]
    WrongDevice {
        /// The bucket's device index.
        bucket: usize,
        /// The group's.
        group: usize,
    },
    /// The bucket is not one dimension of 32-bit floats.
    #[error("the group sums [n] f32 buckets, not a {0} one")]
    WrongBucket(String),
    /// The group was aborted by an earlier error.
    #[error("the group was aborted after an earlier error")]
    Aborted,
}

#[cfg(feature = "cuda")]
impl From<crate::cuda::nccl::NcclError> for NodeGroupError {
    fn from(error: crate::cuda::nccl::NcclError) -> Self {
        use crate::cuda::nccl::{LIBRARY, NcclError};
        match error {
            NcclError::NoLibrary(searched) => Self::NoLibrary {
                collective: DeviceCollective::Nccl,
                library: LIBRARY,
                searched,
            },
            NcclError::Failed { call, message } => Self::Failed { call, message },
            NcclError::Stalled(timeout) => Self::Stalled { timeout },
            NcclError::WrongDevice { bucket, group } => Self::WrongDevice { bucket, group },
            NcclError::WrongBucket(what) => Self::WrongBucket(what),
            NcclError::Aborted => Self::Aborted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{CollectiveVersion, DeviceCollective};

    #[test]
    fn versions_show_as_the_library_names_them() {
        let version = |code| CollectiveVersion {
            collective: DeviceCollective::Nccl,
            code,
        };
        assert_eq!(version(22105).to_string(), "NCCL 2.21.5");
        assert_eq!(version(23007).to_string(), "NCCL 2.30.7");
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn a_build_without_cuda_names_the_feature_nccl_needs() {
        use super::{NodeGroupError, NodeGroupId};

        let wanted = NodeGroupError::NotBuilt {
            collective: DeviceCollective::Nccl,
            feature: "cuda",
        };
        assert_eq!(DeviceCollective::Nccl.load().unwrap_err(), wanted);
        assert_eq!(
            NodeGroupId::new(DeviceCollective::Nccl).unwrap_err(),
            wanted
        );
        assert_eq!(
            wanted.to_string(),
            "NCCL needs the `cuda` feature, which this build lacks"
        );
    }
}
