//! torchvision weight files: what they are and how their keys map to ours.
//!
//! torchvision's ResNet state dicts (`resnet50-0676ba61.pth`, `resnet50-19c8e357.pth`, or the
//! same tensors as safetensors) name parameters as our modules do, except the projection
//! shortcut (`downsample.0` / `downsample.1`, ours `downsample.conv` / `downsample.bn`),
//! BatchNorm's `weight`/`bias` (ours `gamma`/`beta`) and the orientation of Linear weights;
//! burn-store's `PyTorchToBurnAdapter` handles the last two. `num_batches_tracked` has no
//! counterpart (our BatchNorm uses a fixed momentum) and is ignored.

use std::path::Path;

use burn::tensor::backend::Backend;
use burn::tensor::{DType, Element};
use burn_store::{
    ApplyResult, BurnToPyTorchAdapter, KeyRemapper, ModuleAdapter, ModuleSnapshot, ModuleStore,
    PyTorchToBurnAdapter, PytorchStore, SafetensorsStore, TensorSnapshot,
};

use super::resnet::ResNet;
use crate::baseline::Baseline;
use crate::error::{ModelError, Result};

/// Key remappings from torchvision names to ours. The first strips the `module.` prefix
/// `nn.DataParallel` and `DistributedDataParallel` put on every key of a state dict saved
/// from the wrapper.
const TORCHVISION_TO_OURS: &[(&str, &str)] = &[
    (r"^module\.", ""),
    (r"\.downsample\.0\.", ".downsample.conv."),
    (r"\.downsample\.1\.", ".downsample.bn."),
];

/// Key remappings from our names to torchvision's (for export).
const OURS_TO_TORCHVISION: [(&str, &str); 2] = [
    (r"\.downsample\.conv\.", ".downsample.0."),
    (r"\.downsample\.bn\.", ".downsample.1."),
];

/// On-disk formats of weight files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightFormat {
    /// A pickled PyTorch state dict (`.pth`, `.pt`).
    PyTorch,
    /// A safetensors file.
    Safetensors,
}

impl WeightFormat {
    /// The format a path's extension names.
    pub fn from_path(path: &Path) -> Result<Self> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("pth" | "pt") => Ok(Self::PyTorch),
            Some("safetensors") => Ok(Self::Safetensors),
            _ => Err(ModelError::UnknownWeightFormat {
                path: path.to_owned(),
            }),
        }
    }
}

/// What a successful load did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadReport {
    /// Number of model tensors set from the file.
    pub applied: usize,
    /// File tensors deliberately left unused (`num_batches_tracked`, an absent head).
    pub ignored: Vec<String>,
}

/// Loads a torchvision-named state dict into `module`.
///
/// `remaps` are extra `(regex, replacement)` key rewrites applied after the torchvision ones
/// (e.g. `("^(conv1|bn1|layer[1-4])\\.", "backbone.$1.")` when the ResNet sits in a field);
/// file keys matching one of `ignore` (regexes on the rewritten keys) may stay unused. Every
/// other file tensor must land on a parameter of the same shape and every parameter must be
/// set, or the error lists what did not fit.
pub fn load_torchvision_weights<B: Backend, M: ModuleSnapshot<B>>(
    module: &mut M,
    path: &Path,
    remaps: &[(&str, &str)],
    ignore: &[&str],
) -> Result<LoadReport> {
    if !path.exists() {
        return Err(ModelError::WeightsNotFound {
            path: path.to_owned(),
        });
    }
    let unreadable = |message: String| ModelError::WeightsUnreadable {
        path: path.to_owned(),
        message,
    };
    let remapper =
        KeyRemapper::from_pattern_iter(TORCHVISION_TO_OURS.iter().chain(remaps).copied())
            .expect("Invalid regex pattern");
    let snapshots = match WeightFormat::from_path(path)? {
        WeightFormat::PyTorch => all_snapshots(PytorchStore::from_file(path).remap(remapper)),
        WeightFormat::Safetensors => {
            all_snapshots(SafetensorsStore::from_file(path).remap(remapper))
        }
    }
    .map_err(unreadable)?;
    let model_dtype = <B::FloatElem as Element>::dtype();
    let mut cast: Vec<String> = snapshots
        .iter()
        .filter(|t| t.dtype.is_float() && t.dtype != model_dtype)
        .map(|t| format!("{:?}", t.dtype))
        .collect();
    cast.sort();
    cast.dedup();
    if !cast.is_empty() {
        tracing::info!(
            path = %path.display(),
            from = cast.join(", "),
            to = ?model_dtype,
            "casting weights to the model's float type"
        );
    }
    let adapter = PyTorchToBurnAdapter.chain(FloatCastAdapter::to(model_dtype));
    let result: ApplyResult = module.apply(snapshots, None, Some(Box::new(adapter)), true);
    check(result, path, ignore)
}

/// Every tensor of `store`, under its remapped name.
fn all_snapshots<S: ModuleStore>(mut store: S) -> std::result::Result<Vec<TensorSnapshot>, String> {
    let snapshots = store.get_all_snapshots().map_err(|e| e.to_string())?;
    Ok(snapshots.values().cloned().collect())
}

/// Casts every floating-point tensor (f16, bf16, f32, f64) to the model's float type on
/// load, leaving integer buffers (`num_batches_tracked`) alone. State dicts saved after
/// `model.half()` or in bf16 otherwise load "successfully" and fail at the first forward
/// with a dtype mismatch. burn-store's `HalfPrecisionAdapter` only turns f16 into f32 and
/// only for Burn's own module types, which our BatchNorm is not.
#[derive(Debug, Clone, Copy)]
pub struct FloatCastAdapter {
    target: DType,
}

impl FloatCastAdapter {
    /// An adapter casting floating-point tensors to `target` (a float dtype).
    pub fn to(target: DType) -> Self {
        Self { target }
    }
}

impl ModuleAdapter for FloatCastAdapter {
    fn adapt(&self, snapshot: &TensorSnapshot) -> TensorSnapshot {
        if !snapshot.dtype.is_float() || snapshot.dtype == self.target {
            return snapshot.clone();
        }
        let data = snapshot.clone_data_fn();
        let target = self.target;
        TensorSnapshot::from_closure(
            std::rc::Rc::new(move || Ok(data()?.convert_dtype(target))),
            target,
            snapshot.shape.clone(),
            snapshot.path_stack.clone().unwrap_or_default(),
            snapshot.container_stack.clone().unwrap_or_default(),
            snapshot.tensor_id.unwrap_or_default(),
        )
    }

    fn clone_box(&self) -> Box<dyn ModuleAdapter> {
        Box::new(*self)
    }
}

/// A backbone that takes torchvision's ImageNet state dict of its architecture.
pub trait ImageNetBackbone<B: Backend>: burn::module::Module<B> {
    /// Loads torchvision's ImageNet weights (`.pth` or `.safetensors`, any float type, a
    /// `module.` prefix allowed) into the backbone; the file's classifier is ignored.
    ///
    /// # Errors
    /// A missing or unreadable file, or tensors that do not fit (every misfit named).
    fn load_torchvision(&mut self, path: &Path) -> Result<LoadReport>;
}

/// Turns burn-store's report into ours: an error listing every misfit, or the counts.
fn check(result: ApplyResult, path: &Path, ignore: &[&str]) -> Result<LoadReport> {
    let ignore: Vec<regex::Regex> = ignore
        .iter()
        .filter_map(|p| regex::Regex::new(p).ok())
        .collect();
    let applied: std::collections::HashSet<&str> =
        result.applied.iter().map(String::as_str).collect();
    let (ignored, unexpected): (Vec<String>, Vec<String>) = result
        .unused
        .iter()
        .filter(|k| !applied_under_norm_name(k, &applied))
        .cloned()
        .partition(|k| ignore.iter().any(|r| r.is_match(k)));
    let missing: Vec<String> = result.missing.iter().map(|(k, _)| k.clone()).collect();
    let mismatched: Vec<String> = result.errors.iter().map(|e| e.to_string()).collect();
    // Most of the model unset while the file has tensors to spare: another naming, not a
    // few misfits; a short error showing both namings beats hundreds of keys.
    if missing.len() > result.applied.len() && !unexpected.is_empty() {
        return Err(unrelated_keys(path, &unexpected, &missing));
    }
    if !missing.is_empty() || !unexpected.is_empty() || !mismatched.is_empty() {
        return Err(ModelError::WeightsMismatch {
            path: path.to_owned(),
            missing,
            unexpected,
            mismatched,
        });
    }
    tracing::info!(
        path = %path.display(),
        applied = result.applied.len(),
        ignored = ignored.len(),
        "loaded torchvision weights"
    );
    Ok(LoadReport {
        applied: result.applied.len(),
        ignored,
    })
}

/// Most file keys did not reach the model: a few keys of each side, and the expected key nearest to
/// the first found one (the longest common ending: a prefix such as `model.` or
/// `encoder.` is the usual cause).
fn unrelated_keys(path: &Path, found: &[String], expected: &[String]) -> ModelError {
    let few = |keys: &[String]| {
        let mut keys = keys.to_vec();
        keys.sort();
        keys.iter()
            .take(3)
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let common_ending = |a: &str, b: &str| {
        a.bytes()
            .rev()
            .zip(b.bytes().rev())
            .take_while(|(x, y)| x == y)
            .count()
    };
    let mut sorted_found = found.to_vec();
    sorted_found.sort();
    let first = sorted_found.first().cloned().unwrap_or_default();
    let nearest = expected
        .iter()
        .max_by_key(|k| (common_ending(&first, k), std::cmp::Reverse(k.len())))
        .cloned()
        .unwrap_or_default();
    ModelError::WeightsKeysUnrelated {
        path: path.to_owned(),
        n_found: found.len(),
        found: few(found),
        expected: few(expected),
        nearest: format!("nearest to `{first}` is `{nearest}`"),
    }
}

/// burn-store 0.21 lists a BatchNorm's `weight`/`bias` as unused even after the adapter
/// applied them as `gamma`/`beta`; such a key is not a misfit.
fn applied_under_norm_name(key: &str, applied: &std::collections::HashSet<&str>) -> bool {
    let renamed = if let Some(stem) = key.strip_suffix(".weight") {
        format!("{stem}.gamma")
    } else if let Some(stem) = key.strip_suffix(".bias") {
        format!("{stem}.beta")
    } else {
        return false;
    };
    applied.contains(renamed.as_str())
}

impl<B: Backend> ImageNetBackbone<B> for ResNet<B> {
    /// Loads torchvision ImageNet weights (`resnet50-0676ba61.pth`, ...) into the backbone;
    /// the classifier's `fc.*` tensors are ignored.
    fn load_torchvision(&mut self, path: &Path) -> Result<LoadReport> {
        load_torchvision_weights(self, path, &[], &[NUM_BATCHES_TRACKED, r"^fc\."])
    }
}

impl<B: Backend> Baseline<B, ResNet<B>> {
    /// Loads a whole torchvision classifier: backbone and `fc` (which must have this model's
    /// number of classes).
    pub fn load_torchvision(&mut self, path: &Path) -> Result<LoadReport> {
        load_torchvision_weights(
            self,
            path,
            &[(r"^(conv1|bn1|layer[1-4])\.", "backbone.$1.")],
            &[NUM_BATCHES_TRACKED],
        )
    }
}

/// PyTorch's BatchNorm step counter; ours uses a fixed momentum and has no such buffer.
const NUM_BATCHES_TRACKED: &str = r"num_batches_tracked$";

/// Writes `module`'s tensors as safetensors with PyTorch conventions (BatchNorm
/// `weight`/`bias`, `[out, in]` Linear weights, `downsample.0/1`), so that a PyTorch module
/// with the same structure loads the file with `load_state_dict`.
pub fn export_torchvision_safetensors<B: Backend, M: ModuleSnapshot<B>>(
    module: &M,
    path: &Path,
) -> Result<()> {
    let mut store = SafetensorsStore::from_file(path)
        .with_to_adapter(BurnToPyTorchAdapter)
        .skip_enum_variants(true)
        .overwrite(true);
    for (from, to) in OURS_TO_TORCHVISION {
        store = store.with_key_remapping(from, to);
    }
    module.save_into(&mut store).map_err(|e| ModelError::Save {
        path: path.to_owned(),
        message: e.to_string(),
    })
}
