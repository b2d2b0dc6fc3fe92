//! torchvision weight files: what they are and how their keys map to ours.
//!
//! torchvision's ResNet state dicts (`resnet50-0676ba61.pth`, `resnet50-19c8e357.pth`, or the
//! same tensors as safetensors) name parameters as our modules do, except the projection
//! shortcut (`downsample.0` / `downsample.1`, ours `downsample.conv` / `downsample.bn`),
//! BatchNorm's `weight`/`bias` (ours `gamma`/`beta`) and the orientation of Linear weights;
//! burn-store's `PyTorchToBurnAdapter` handles the last two. `num_batches_tracked` has no
//! counterpart (our BatchNorm uses a fixed momentum) and is ignored.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use burn::tensor::backend::Backend;
use burn::tensor::{DType, Element};
use burn_store::{
    ApplyResult, BurnToPyTorchAdapter, KeyRemapper, ModuleAdapter, ModuleSnapshot, ModuleStore,
    PyTorchToBurnAdapter, PytorchStore, SafetensorsStore, TensorSnapshot, map_indices_contiguous,
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
        let extension = path.extension().and_then(|e| e.to_str());
        match extension.map(str::to_ascii_lowercase).as_deref() {
            // `.ckpt`: Lightning; `.bin`: Hugging Face's `pytorch_model.bin`; `.tar`:
            // `model_best.pth.tar` from PyTorch's ImageNet example.
            Some("pth" | "pt" | "ckpt" | "bin" | "tar") => Ok(Self::PyTorch),
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
    let format = WeightFormat::from_path(path)?;
    let raw = match format {
        // Numbered like the file: the store's renumbering of gaps (`classifier.1` after a
        // dropout) must come after our renaming, as when the store renames.
        WeightFormat::PyTorch => {
            all_snapshots(PytorchStore::from_file(path).map_indices_contiguous(false))
        }
        WeightFormat::Safetensors => all_snapshots(SafetensorsStore::from_file(path)),
    }
    .map_err(|message| unreadable(diagnose(path, format, message)))?;
    let patterns: Vec<(&str, &str)> = TORCHVISION_TO_OURS.iter().chain(remaps).copied().collect();
    let remapper = KeyRemapper::from_pattern_iter(patterns).expect("Invalid regex pattern");
    let renaming = Renaming {
        remapper,
        contiguous: format == WeightFormat::PyTorch,
    };
    let prefix = checkpoint_prefix(&raw, &module_paths(module), &renaming, path)?;
    let snapshots = under_prefix(raw, &prefix, &renaming, path);
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

/// The module paths (`layer1.0.bn1`) of `module`'s tensors, as our names spell them.
fn module_paths<B: Backend, M: ModuleSnapshot<B>>(module: &M) -> HashSet<String> {
    module
        .collect(None, None, true)
        .iter()
        .filter_map(|t| t.full_path().rsplit_once('.').map(|(m, _)| m.to_owned()))
        .collect()
}

/// How many of `expected`'s module paths the tensors under `prefix` reach, after `remapper`.
fn reach(
    raw: &[TensorSnapshot],
    prefix: &str,
    expected: &HashSet<String>,
    renaming: &Renaming,
) -> usize {
    let under: Vec<TensorSnapshot> = raw
        .iter()
        .filter(|t| t.full_path().starts_with(prefix))
        .cloned()
        .collect();
    let reached: HashSet<String> = renamed(under, prefix, renaming)
        .iter()
        .filter_map(|t| t.full_path().rsplit_once('.').map(|(m, _)| m.to_owned()))
        .filter(|m| expected.contains(m))
        .collect();
    reached.len()
}

/// How a file's keys become ours: the key rewrites, then (for PyTorch pickles, as
/// burn-store's `PytorchStore` does) indices renumbered without gaps.
struct Renaming {
    remapper: KeyRemapper,
    contiguous: bool,
}

/// `tensors` (all under `prefix`) renamed without it, then into our names.
fn renamed(tensors: Vec<TensorSnapshot>, prefix: &str, renaming: &Renaming) -> Vec<TensorSnapshot> {
    let tensors = if prefix.is_empty() {
        tensors
    } else {
        let strip = KeyRemapper::from_pattern_iter([(
            format!("^{}", regex::escape(prefix)),
            String::new(),
        )])
        .expect("an escaped prefix is a valid pattern");
        strip.remap(tensors).0
    };
    let ours = renaming.remapper.remap(tensors).0;
    if renaming.contiguous {
        map_indices_contiguous(ours).0
    } else {
        ours
    }
}

/// Where the file keeps the model's tensors: `""` for a plain state dict, or the prefix the
/// checkpoint wraps them in (`state_dict.`, `model.`, `net.`, Lightning's
/// `state_dict.model.`, a `backbone.` prefix): the one, among the first one or two key
/// components, under which the most of the model's tensors are found. The optimizer state
/// and anything else beside them is left alone.
///
/// # Errors
/// [`ModelError::WeightsAmbiguous`] when two prefixes reach the model equally (a model and
/// its EMA copy).
fn checkpoint_prefix(
    raw: &[TensorSnapshot],
    expected: &HashSet<String>,
    renaming: &Renaming,
    path: &Path,
) -> Result<String> {
    let mut candidates: BTreeSet<String> = BTreeSet::new();
    for t in raw {
        let key = t.full_path();
        for (i, _) in key.match_indices('.').take(2) {
            candidates.insert(key[..=i].to_owned());
        }
    }
    let plain = reach(raw, "", expected, renaming);
    let scored: Vec<(usize, String)> = candidates
        .into_iter()
        .map(|c| (reach(raw, &c, expected, renaming), c))
        .collect();
    let best = scored.iter().map(|(n, _)| *n).max().unwrap_or(0);
    if best <= plain {
        return Ok(String::new());
    }
    let tied: Vec<&String> = scored
        .iter()
        .filter(|(n, _)| *n == best)
        .map(|(_, c)| c)
        .collect();
    // `state_dict.` and `state_dict.module.` reach the same tensors when the rewrites strip
    // DataParallel's `module.`: one copy, read under the shorter prefix.
    let winners: Vec<&String> = tied
        .iter()
        .filter(|p| !tied.iter().any(|q| q != *p && p.starts_with(q.as_str())))
        .copied()
        .collect();
    match winners[..] {
        [one] => Ok(one.clone()),
        _ => Err(ModelError::WeightsAmbiguous {
            path: path.to_owned(),
            prefixes: winners
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(" and "),
            fix: save_one_hint(winners[0]),
        }),
    }
}

/// How to save the tensors under `prefix` as a plain state dict, in PyTorch.
fn save_one_hint(prefix: &str) -> String {
    let keys: Vec<&str> = prefix.trim_end_matches('.').split('.').collect();
    match keys[..] {
        [key] => format!("`torch.save(torch.load(f)[\"{key}\"], \"weights.pth\")`"),
        [outer, ..] => format!(
            "`sd = torch.load(f)[\"{outer}\"]; torch.save({{k[{n}:]: v for k, v in sd.items() \
             if k.startswith(\"{inner}\")}}, \"weights.pth\")`",
            n = prefix.len() - outer.len() - 1,
            inner = &prefix[outer.len() + 1..],
        ),
        [] => String::new(),
    }
}

/// The tensors under `prefix`, renamed without it and into our names.
fn under_prefix(
    raw: Vec<TensorSnapshot>,
    prefix: &str,
    renaming: &Renaming,
    path: &Path,
) -> Vec<TensorSnapshot> {
    if prefix.is_empty() {
        return renamed(raw, prefix, renaming);
    }
    let total = raw.len();
    let under: Vec<TensorSnapshot> = raw
        .into_iter()
        .filter(|t| t.full_path().starts_with(prefix))
        .collect();
    tracing::info!(
        path = %path.display(),
        prefix,
        left_alone = total - under.len(),
        "a checkpoint: reading the model's tensors under its key prefix (optimizer state and \
         the rest left alone)"
    );
    renamed(under, prefix, renaming)
}

/// The start and the end of a file: what [`diagnose`] needs of it (a zip archive's
/// directory, with its file names, is at its end), without reading a large file whole.
struct Ended {
    /// The first 4 KiB, then the last MiB where the file is longer (or the whole file).
    bytes: Vec<u8>,
    /// The file's length.
    len: u64,
}

fn ends_of(path: &Path) -> Ended {
    use std::io::{Read, Seek, SeekFrom};
    const HEAD: u64 = 4096;
    const TAIL: u64 = 1 << 20;
    let Ok(mut file) = std::fs::File::open(path) else {
        return Ended {
            bytes: Vec::new(),
            len: 0,
        };
    };
    let len = file.metadata().map_or(0, |m| m.len());
    let mut bytes = Vec::new();
    let _ = (&mut file).take(HEAD).read_to_end(&mut bytes);
    if len > HEAD + TAIL && file.seek(SeekFrom::End(-(TAIL as i64))).is_ok() {
        let _ = file.take(TAIL).read_to_end(&mut bytes);
    } else {
        let _ = file.read_to_end(&mut bytes);
    }
    Ended { bytes, len }
}
/// A reader's error, said as the user would put it when the bytes say what the file is: an
/// empty file, an image, a cut download, a TorchScript archive, a whole pickled model.
fn diagnose(path: &Path, format: WeightFormat, message: String) -> String {
    let Ended { bytes, len } = ends_of(path);
    if bytes.is_empty() {
        return "the file is empty (0 bytes): a failed download or copy".to_owned();
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) || bytes.starts_with(b"\x89PNG") {
        return "the file is an image, not weights".to_owned();
    }
    if bytes.starts_with(b"version https://git-lfs") {
        return "a Git LFS pointer, not the weights: fetch them (`git lfs pull`) or download \
                the file itself"
            .to_owned();
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_ascii_lowercase();
    if head.trim_start().starts_with("<!doctype html") || head.trim_start().starts_with("<html") {
        return "an HTML page (a download that saved the web page), not the weights".to_owned();
    }
    if format != WeightFormat::PyTorch {
        return if message.contains("incomplete") || message.contains("not fully covered") {
            format!(
                "the file ends early ({len} bytes): truncated, a partial download or copy; \
                 fetch it again ({message})"
            )
        } else {
            message
        };
    }
    let holds = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    if bytes.starts_with(b"PK") && holds(b"constants.pkl") {
        return "a TorchScript archive (torch.jit.save), not a state dict; save its tensors: \
                `torch.save(torch.jit.load(f).state_dict(), \"weights.pth\")`"
            .to_owned();
    }
    if message.contains("full model save") {
        return "a whole pickled model (torch.save(model)), not a state dict; save its \
                tensors: `torch.save(torch.load(f, weights_only=False).state_dict(), \
                \"weights.pth\")`"
            .to_owned();
    }
    // A zip archive keeps its directory at the end: without it, the file was cut short.
    if bytes.starts_with(b"PK") && !holds(b"PK\x05\x06") {
        return format!(
            "the archive ends early ({len} bytes): the file is truncated, a partial download \
             or copy; fetch it again ({message})"
        );
    }
    if !bytes.starts_with(b"PK") && !bytes.starts_with(&[0x80]) {
        return format!(
            "not a PyTorch file: it starts with bytes {} (a PyTorch file is a zip archive or a \
             pickle) ({message})",
            bytes
                .iter()
                .take(8)
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    message
}

/// Every tensor of `store`, under its name in the file.
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

#[cfg(test)]
mod tests {
    use super::save_one_hint;

    #[test]
    fn the_hint_saves_the_tensors_under_a_nested_prefix() {
        assert_eq!(
            save_one_hint("state_dict.model_ema."),
            "`sd = torch.load(f)[\"state_dict\"]; torch.save({k[10:]: v for k, v in \
             sd.items() if k.startswith(\"model_ema.\")}, \"weights.pth\")`"
        );
    }
}
