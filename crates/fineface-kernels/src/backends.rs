//! [`FineFaceBackend`](crate::FineFaceBackend) for Burn's own backends, each behind the cargo
//! feature of its name and at Burn's default element types (`f32` floats). The trait's
//! documentation says why they live in this crate and how one is added. Flex's
//! implementation, which overrides the defaults with this crate's kernels, is in
//! `flex/backend.rs`; `Autodiff<B>`'s, generic over the inner backend, in `autodiff.rs`.

/// Burn's `NdArray` CPU backend with Burn's ops (the defaults throughout).
#[cfg(feature = "ndarray")]
impl crate::FineFaceBackend for burn::backend::NdArray {}

/// Burn's CUDA convolution kernels as they are; BatchNorm as the closed form in tensor ops;
/// NCCL between the nodes of a run over several machines (`cuda/nccl.rs`).
#[cfg(feature = "cuda")]
impl crate::FineFaceBackend for burn::backend::Cuda {
    fn device_collective() -> Option<crate::DeviceCollective> {
        Some(crate::DeviceCollective::Nccl)
    }

    fn node_group(
        device: &Self::Device,
        id: &crate::NodeGroupId,
        nodes: usize,
        rank: usize,
    ) -> Result<crate::NodeGroup, crate::NodeGroupError> {
        if id.collective() != crate::DeviceCollective::Nccl {
            return Err(crate::NodeGroupError::Unsupported);
        }
        Ok(crate::NodeGroup {
            nodes,
            rank,
            nccl: crate::cuda::nccl::Nccl::new(device.index, id.bytes(), nodes, rank)?,
        })
    }

    fn node_all_reduce_sum(
        bucket: burn::tensor::ops::FloatTensor<Self>,
        group: &mut crate::NodeGroup,
        timeout: std::time::Duration,
    ) -> Result<burn::tensor::ops::FloatTensor<Self>, crate::NodeGroupError> {
        Ok(group.nccl.all_reduce_sum(bucket, timeout)?)
    }
}

/// Burn's wgpu backend (CubeCL kernels compiled for Vulkan, Metal or DirectX 12) with Burn's
/// ops: the same kernels as CUDA, for any GPU and for Mesa's software driver in CI.
#[cfg(feature = "wgpu")]
impl crate::FineFaceBackend for burn::backend::Wgpu {}
