//! NCCL between the nodes of a run: a communicator of one CUDA device per process, made from
//! node 0's unique id (`ncclCommInitRank`), and its all-reduce on the device buffers of
//! Burn's CUDA tensors (`ncclAllReduce`), on a stream of its own in the device's primary
//! context (the one Burn's CubeCL runtime uses), polled with a deadline.
//!
//! cubecl-cuda runs NCCL too, but only between the devices of one process (its unique ids
//! live in a map of its own), so the communicator between processes is made here.

use std::ffi::{CStr, c_char, c_void};
use std::mem::MaybeUninit;
use std::sync::Arc;
use std::time::{Duration, Instant};

use burn::tensor::DType;
use burn_cubecl::cubecl::cuda::CudaRuntime;
use burn_cubecl::cubecl::future::block_on;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use burn_cubecl::tensor::CubeTensor;
use cudarc::driver::{CudaContext, CudaStream};
use cudarc::nccl::{result, sys};

/// The library's file name, for messages: cudarc loads it as `libnccl.so` (never by its
/// soname `libnccl.so.2`), the link NCCL's development package installs.
pub(crate) const LIBRARY: &str = "libnccl.so";

/// Bytes in a unique id (`NCCL_UNIQUE_ID_BYTES`).
pub(crate) const ID_BYTES: usize = 128;

/// Why NCCL could not set up or sum (`NodeGroupError` says it to users: `node_group.rs`).
#[derive(Debug)]
pub(crate) enum NcclError {
    /// The library does not load; the names it was searched under.
    NoLibrary(String),
    /// A call of NCCL, the driver or CubeCL's runtime failed.
    Failed { call: &'static str, message: String },
    /// A sum did not end within the timeout; the communicator is aborted.
    Stalled(Duration),
    /// The bucket's device index is not the communicator's.
    WrongDevice { bucket: usize, group: usize },
    /// The bucket is not `[n]` f32: what it is.
    WrongBucket(String),
    /// The communicator was aborted by an earlier error.
    Aborted,
}

/// Loads NCCL and returns its version code (`NCCL_VERSION_CODE`: 22105 for 2.21.5).
pub(crate) fn load() -> Result<u32, NcclError> {
    if !library_present() {
        return Err(NcclError::NoLibrary(
            cudarc::get_lib_name_candidates("nccl").join(", "),
        ));
    }
    let code = result::get_nccl_version().map_err(|e| NcclError::Failed {
        call: "ncclGetVersion",
        message: describe(e.0),
    })?;
    Ok(u32::try_from(code).unwrap_or(0))
}

/// Whether NCCL's library loads (its `unsafe` block holds nothing else).
#[allow(unsafe_code)]
fn library_present() -> bool {
    // SAFETY: only tries to dlopen the library by its well-known names.
    unsafe { sys::is_culib_present() }
}

/// A new unique id (`ncclGetUniqueId`), as bytes.
pub(crate) fn unique_id() -> Result<[u8; ID_BYTES], NcclError> {
    load()?;
    let id = result::get_uniqueid().map_err(|e| NcclError::Failed {
        call: "ncclGetUniqueId",
        message: describe(e.0),
    })?;
    Ok(id.internal.map(|c| c as u8))
}

/// One process's NCCL communicator, with the stream its sums run on.
pub(crate) struct Nccl {
    comm: sys::ncclComm_t,
    /// The device's primary context, retained for the communicator's life.
    context: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    device: usize,
    /// Set once `ncclCommAbort` has freed the communicator.
    aborted: bool,
}

/// How long an aborted communicator's stream is given to empty before its buffers are let go.
const DRAIN: Duration = Duration::from_secs(10);

impl std::fmt::Debug for Nccl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nccl")
            .field("device", &self.device)
            .field("aborted", &self.aborted)
            .finish_non_exhaustive()
    }
}

impl Nccl {
    /// Joins group `id` as `rank` of `nodes` on CUDA device `device`. Blocks until every
    /// node has joined (NCCL's bootstrap through node 0's address in the id).
    pub(crate) fn new(
        device: usize,
        id: &[u8; ID_BYTES],
        nodes: usize,
        rank: usize,
    ) -> Result<Self, NcclError> {
        load()?;
        let context = CudaContext::new(device).map_err(failed("cuDevicePrimaryCtxRetain"))?;
        let stream = context.new_stream().map_err(failed("cuStreamCreate"))?;
        let count = |n: usize| {
            i32::try_from(n).map_err(|_| NcclError::Failed {
                call: "ncclCommInitRank",
                message: format!("{n} ranks"),
            })
        };
        let (nodes_i, rank_i) = (count(nodes)?, count(rank)?);
        let unique = sys::ncclUniqueId {
            internal: id.map(|b| b as c_char),
        };
        let mut comm = MaybeUninit::uninit();
        context
            .bind_to_thread()
            .map_err(failed("cuCtxSetCurrent"))?;
        // SAFETY: `comm` is a place for one communicator, which a successful call fills;
        // the id is node 0's, `rank` below `nodes`, and the device's context is current.
        #[allow(unsafe_code)]
        let comm = unsafe {
            succeeded(
                "ncclCommInitRank",
                result::comm_init_rank(comm.as_mut_ptr(), nodes_i, unique, rank_i),
            )?;
            comm.assume_init()
        };
        tracing::info!(device, rank, nodes, "joined the NCCL group between nodes");
        Ok(Self {
            comm,
            context,
            stream,
            device,
            aborted: false,
        })
    }

    /// Sums `bucket` (`[n]`, f32) over the group into a new tensor of the same device,
    /// waiting at most `timeout`; past it, or on an error NCCL reports from another node,
    /// the communicator is aborted.
    pub(crate) fn all_reduce_sum(
        &mut self,
        bucket: CubeTensor<CudaRuntime>,
        timeout: Duration,
    ) -> Result<CubeTensor<CudaRuntime>, NcclError> {
        if self.aborted {
            return Err(NcclError::Aborted);
        }
        check_bucket(&bucket, self.device)?;
        let bucket = if bucket.is_contiguous() && bucket.is_contiguous_buffer() {
            bucket
        } else {
            into_contiguous(bucket)
        };
        let shape = bucket.meta.shape().clone();
        let count = shape.num_elements();
        let total = empty_device_contiguous_dtype(
            bucket.client.clone(),
            bucket.device.clone(),
            shape,
            DType::F32,
        );
        // Held until the sum is done: they keep the buffers from being reused. Taking them
        // makes this thread's CubeCL stream wait for the streams that wrote them (the
        // workers' all-reduce within the node runs on other threads)...
        let sent = bucket
            .client
            .get_resource(bucket.handle.clone())
            .map_err(failed("get_resource"))?;
        let received = total
            .client
            .get_resource(total.handle.clone())
            .map_err(failed("get_resource"))?;
        // ... and this waits for that stream: the bucket is computed.
        block_on(bucket.client.sync()).map_err(failed("sync"))?;
        self.context
            .bind_to_thread()
            .map_err(failed("cuCtxSetCurrent"))?;
        // SAFETY: both pointers are device buffers of at least `count` f32 of this
        // communicator's device (checked above), in its primary context, kept alive by
        // `sent` and `received` until the sum is complete or the communicator aborted below;
        // `comm` is initialised and not aborted, `stream` is a stream of the same context.
        #[allow(unsafe_code)]
        let queued = unsafe {
            result::all_reduce(
                sent.resource().ptr as *const c_void,
                received.resource().ptr as *mut c_void,
                count,
                sys::ncclDataType_t::ncclFloat32,
                sys::ncclRedOp_t::ncclSum,
                self.comm,
                self.stream.cu_stream() as sys::cudaStream_t,
            )
        };
        let waited = succeeded("ncclAllReduce", queued).and_then(|()| self.wait(timeout));
        if waited.is_err() {
            // Nothing may still write to the buffers once they are dropped.
            self.abort();
            self.drain();
        }
        drop((sent, received, bucket));
        waited.map(|()| total)
    }

    /// Waits a little, at most [`DRAIN`], for an aborted communicator's kernels to leave the
    /// stream (they stop at the abort).
    fn drain(&self) {
        let Ok(drained) = self.stream.record_event(None) else {
            return;
        };
        let start = Instant::now();
        while !drained.try_is_complete().unwrap_or(true) && start.elapsed() < DRAIN {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Waits for the work queued on the stream, at most `timeout`, watching for errors NCCL
    /// reports from the other nodes.
    fn wait(&self, timeout: Duration) -> Result<(), NcclError> {
        let done = self
            .stream
            .record_event(None)
            .map_err(failed("cuEventRecord"))?;
        let start = Instant::now();
        while !done.try_is_complete().map_err(failed("cuEventQuery"))? {
            self.async_error()?;
            if start.elapsed() > timeout {
                return Err(NcclError::Stalled(timeout));
            }
            std::thread::sleep(Duration::from_micros(50));
        }
        Ok(())
    }

    /// An error NCCL met in the background (another node gone: `ncclRemoteError`).
    fn async_error(&self) -> Result<(), NcclError> {
        let mut state = sys::ncclResult_t::ncclSuccess;
        // SAFETY: `comm` is initialised and not aborted; `state` is a place for one result.
        #[allow(unsafe_code)]
        let asked = unsafe { sys::ncclCommGetAsyncError(self.comm, &mut state) };
        succeeded("ncclCommGetAsyncError", asked.result())?;
        match state {
            sys::ncclResult_t::ncclSuccess => Ok(()),
            other => Err(NcclError::Failed {
                call: "a sum between nodes",
                message: describe(other),
            }),
        }
    }

    /// Frees the communicator at once, stopping whatever it runs, without waiting for the
    /// other nodes (`ncclCommAbort`): after an error, where destroying it could wait for a
    /// node that is gone. Later sums are refused.
    pub(crate) fn abort(&mut self) {
        if !self.aborted {
            self.aborted = true;
            // SAFETY: `comm` is initialised and not yet aborted or destroyed.
            #[allow(unsafe_code)]
            let aborted = unsafe { result::comm_abort(self.comm) };
            if let Err(e) = aborted {
                tracing::warn!("ncclCommAbort failed: {e:?}");
            }
        }
    }
}

impl Drop for Nccl {
    fn drop(&mut self) {
        if self.aborted {
            return;
        }
        // SAFETY: `comm` is initialised and neither aborted nor destroyed; nothing runs on
        // it (every sum waited for its end).
        #[allow(unsafe_code)]
        let destroyed = unsafe { result::comm_destroy(self.comm) };
        if let Err(e) = destroyed {
            tracing::warn!("ncclCommDestroy failed: {e:?}");
        }
    }
}

/// Why `bucket` cannot be summed on device `device`, if it cannot.
fn check_bucket(bucket: &CubeTensor<CudaRuntime>, device: usize) -> Result<(), NcclError> {
    if bucket.device.index != device {
        return Err(NcclError::WrongDevice {
            bucket: bucket.device.index,
            group: device,
        });
    }
    let dims = bucket.meta.shape().num_dims();
    if bucket.dtype != DType::F32 || dims != 1 {
        return Err(NcclError::WrongBucket(format!(
            "{dims}-d {:?}",
            bucket.dtype
        )));
    }
    Ok(())
}

/// A completed NCCL `call`, or its failure with NCCL's words for it. cudarc counts
/// `ncclInProgress` (a non-blocking communicator's answer, under `NCCL_COMM_BLOCKING=0`) as
/// success; here it is an error, since the communicator and its sums are used as blocking.
fn succeeded(
    call: &'static str,
    status: Result<result::NcclStatus, result::NcclError>,
) -> Result<(), NcclError> {
    match status {
        Ok(result::NcclStatus::Success) => Ok(()),
        Ok(_) => Err(NcclError::Failed {
            call,
            message: "ncclInProgress: a non-blocking communicator (unset NCCL_COMM_BLOCKING)"
                .to_owned(),
        }),
        Err(e) => Err(NcclError::Failed {
            call,
            message: describe(e.0),
        }),
    }
}

/// `ncclInvalidUsage (invalid usage: Duplicate GPU detected ...)`: the result's name, NCCL's
/// string for it and its last error message.
fn describe(code: sys::ncclResult_t) -> String {
    let text = |pointer: *const c_char| {
        // SAFETY: NCCL returns a null pointer or a NUL-terminated string it owns, which is
        // copied at once.
        #[allow(unsafe_code)]
        let text = (!pointer.is_null()).then(|| unsafe { CStr::from_ptr(pointer) });
        text.map(|t| t.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    // SAFETY: both take plain values (the communicator is unused by ncclGetLastError and may
    // be null) and return pointers to NCCL's own strings.
    #[allow(unsafe_code)]
    let (string, last) = unsafe {
        (
            sys::ncclGetErrorString(code),
            sys::ncclGetLastError(std::ptr::null_mut()),
        )
    };
    let words: Vec<String> = [text(string), text(last)]
        .into_iter()
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() {
        format!("{code:?}")
    } else {
        format!("{code:?} ({})", words.join(": "))
    }
}

/// A failed `call` of the CUDA driver or of CubeCL's runtime.
fn failed<E: std::fmt::Debug>(call: &'static str) -> impl Fn(E) -> NcclError {
    move |e| NcclError::Failed {
        call,
        message: format!("{e:?}"),
    }
}
