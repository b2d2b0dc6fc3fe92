//! facenet-pytorch's state dicts into the three networks.
//!
//! facenet-pytorch's published `pnet.pt`, `rnet.pt` and `onet.pt` keep every convolution
//! and linear weight column-major (their strides reversed: the tensors are transposed views
//! of the converted Caffe/TensorFlow kernels). burn-store 0.21's PyTorch reader ignores
//! strides and reads each storage as a row-major tensor of the stated shape, so those
//! weights arrive scrambled and the networks answer nonsense (measured: P-Net's offsets
//! 6.5 off on a probe). The published files are recognised by their SHA-256 digests and
//! their weights restored here; any other `.pt` is refused (its strides cannot be known),
//! and a `.safetensors` file (always contiguous) loads as it is.

use std::io::Read;
use std::path::{Path, PathBuf};

use burn::nn::Linear;
use burn::nn::conv::Conv2d;
use burn::tensor::backend::Backend;
use burn_store::ModuleSnapshot;
use fineface_model::load_torchvision_weights;
use sha2::{Digest, Sha256};

use crate::error::{DetectError, Result};

/// PyTorch's `PReLU` keeps its slopes as `weight`, Burn's `PRelu` as `alpha`; every other
/// key is the same (Linear weights are transposed by burn-store's PyTorch adapter).
const FACENET_TO_OURS: &[(&str, &str)] = &[(r"^(prelu[0-9_]+)\.weight$", "$1.alpha")];

/// One of the three networks' files.
#[allow(clippy::enum_variant_names)] // The paper's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Network {
    PNet,
    RNet,
    ONet,
}

impl Network {
    /// facenet-pytorch's name for the file.
    pub(crate) fn file(self) -> &'static str {
        match self {
            Self::PNet => "pnet.pt",
            Self::RNet => "rnet.pt",
            Self::ONet => "onet.pt",
        }
    }

    /// SHA-256 of facenet-pytorch 2.6.0's `facenet_pytorch/data/<file>`.
    fn published_digest(self) -> &'static str {
        match self {
            Self::PNet => "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f",
            Self::RNet => "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86",
            Self::ONet => "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d",
        }
    }
}

/// How a weight file's tensors are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// As burn-store reads them (a safetensors file).
    AsRead,
    /// facenet-pytorch's published pickle: convolution and linear weights column-major.
    ColumnMajor,
}

/// A network whose column-major weights, read as row-major, can be put right.
pub(crate) trait RestoreColumnMajor {
    /// The network with every convolution and linear weight restored.
    fn restore_column_major(self) -> Self;
}

/// A convolution weight `[out, in, kh, kw]` whose storage is column-major.
pub(crate) fn conv_column_major<B: Backend>(mut conv: Conv2d<B>) -> Conv2d<B> {
    conv.weight = conv.weight.map(|w| {
        let [out, input, kh, kw] = w.dims();
        w.reshape([kw, kh, input, out]).permute([3, 2, 1, 0])
    });
    conv
}

/// A linear weight: burn-store read PyTorch's `[out, in]` storage row-major and transposed
/// it into Burn's `[in, out]`; the column-major storage is Burn's `[in, out]` row-major.
pub(crate) fn linear_column_major<B: Backend>(mut linear: Linear<B>) -> Linear<B> {
    linear.weight = linear.weight.map(|w| {
        let [input, out] = w.dims();
        w.transpose().reshape([input, out])
    });
    linear
}

/// Where the three weight files are: facenet-pytorch 2.6.0's `pnet.pt`, `rnet.pt` and
/// `onet.pt` (legacy torch pickles of plain state dicts, MIT-licensed: the original Caffe
/// MTCNN converted by facenet-pytorch's authors), or safetensors files of the same tensors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MtcnnWeights {
    /// P-Net's state dict.
    pub pnet: PathBuf,
    /// R-Net's state dict.
    pub rnet: PathBuf,
    /// O-Net's state dict.
    pub onet: PathBuf,
}

impl MtcnnWeights {
    /// `pnet.pt`, `rnet.pt` and `onet.pt` in `dir` (facenet-pytorch's `data/` folder, or a
    /// copy of it).
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            pnet: dir.join(Network::PNet.file()),
            rnet: dir.join(Network::RNet.file()),
            onet: dir.join(Network::ONet.file()),
        }
    }

    /// Loads `path` into `net`.
    ///
    /// # Errors
    /// [`DetectError::WeightsNotFound`] naming the file and how to obtain it;
    /// [`DetectError::UnknownPickle`] for a `.pt` that is not facenet-pytorch's published
    /// file; [`DetectError::Weights`] when a tensor is missing, unexpected or of another
    /// shape.
    pub(crate) fn load<B: Backend, M: ModuleSnapshot<B> + RestoreColumnMajor>(
        mut net: M,
        path: &Path,
        network: Network,
    ) -> Result<M> {
        let layout = layout(path, network)?;
        let report =
            load_torchvision_weights(&mut net, path, FACENET_TO_OURS, &[]).map_err(|source| {
                DetectError::Weights {
                    path: path.to_owned(),
                    source: Box::new(source),
                }
            })?;
        tracing::debug!(path = %path.display(), tensors = report.applied, ?layout, "MTCNN weights");
        Ok(match layout {
            Layout::AsRead => net,
            Layout::ColumnMajor => net.restore_column_major(),
        })
    }
}

/// The layout of the file at `path`: facenet-pytorch's published pickle (by digest) or a
/// safetensors file.
fn layout(path: &Path, network: Network) -> Result<Layout> {
    let not_found = || DetectError::WeightsNotFound {
        path: path.to_owned(),
        file: network.file(),
    };
    if !path.is_file() {
        return Err(not_found());
    }
    if path.extension().is_some_and(|e| e == "safetensors") {
        return Ok(Layout::AsRead);
    }
    let digest = sha256(path).map_err(|source| DetectError::Io {
        path: path.to_owned(),
        source,
    })?;
    if digest == network.published_digest() {
        Ok(Layout::ColumnMajor)
    } else {
        Err(DetectError::UnknownPickle {
            path: path.to_owned(),
            file: network.file(),
            digest,
        })
    }
}

/// The file's SHA-256 digest, lowercase hex.
fn sha256(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}
