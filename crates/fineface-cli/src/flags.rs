//! Parsers of numeric flags: a value out of range is refused by clap, naming the flag, before
//! any config is read (so no error can blame the experiment file for it).

/// A whole number of at least `least`, or why not.
fn at_least(text: &str, least: usize, why: &str) -> Result<usize, String> {
    let n = text
        .parse::<usize>()
        .map_err(|e| format!("`{text}` is not a whole number ({e})"))?;
    if n < least {
        return Err(format!("{n} is too small: {least} or more{why}"));
    }
    Ok(n)
}

/// A count of 1 or more (`--workers`, `--batch-size` of evaluation).
pub fn at_least_one(text: &str) -> Result<usize, String> {
    at_least(text, 1, "")
}

/// `--epochs`: 1 or more.
pub fn epochs(text: &str) -> Result<usize, String> {
    at_least(text, 1, "")
}

/// `--batch-size` of training: 2 or more (BatchNorm needs two samples).
pub fn batch_size(text: &str) -> Result<usize, String> {
    at_least(text, 2, " (BatchNorm needs two samples)")
}

/// `--image-size`: 32 px or more (the backbones downsample 32 times).
pub fn image_size(text: &str) -> Result<u32, String> {
    let n = at_least(text, 32, " px (the backbones downsample by 32)")?;
    u32::try_from(n).map_err(|_| format!("{n} px is too large"))
}

/// A device name (`cpu`, `cuda:0`, `wgpu`, `wgpu:1`), checked as typed so that the error
/// names the flag the user gave (`--device` or `--devices`). Whether this build can run it
/// is checked later, with the backends.
pub fn device(text: &str) -> Result<String, String> {
    text.parse::<fineface_model::DeviceSpec>()
        .map(|_| text.to_owned())
        .map_err(|e| e.to_string())
}
