//! Decodes images the way the data pipeline does (`open_image`: EXIF orientation applied,
//! converted to 8-bit RGB) and writes each as raw `height x width x 3` bytes, `<name>.rgb`
//! in the output folder, printing `name width height` per image. Reference scripts
//! (`tools/mobilenet_goldens.py`) read these so that PyTorch sees the very pixels our
//! decoder gives: JPEG decoders differ by a level here and there.
//!
//! ```sh
//! cargo run -p fineface-data --example decode_rgb -- OUT_DIR IMAGE...
//! ```

#![allow(clippy::print_stdout)] // The listing is this program's output.

use std::path::PathBuf;

use anyhow::Context;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let out = args.next().context("usage: decode_rgb OUT_DIR IMAGE...")?;
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    for path in args {
        let image = fineface_data::open_image(&path)?.to_rgb8();
        let name = path
            .file_name()
            .context("an image path without a file name")?
            .to_string_lossy()
            .into_owned();
        let target = out.join(format!("{name}.rgb"));
        std::fs::write(&target, image.as_raw())
            .with_context(|| format!("cannot write {}", target.display()))?;
        println!("{name} {} {}", image.width(), image.height());
    }
    Ok(())
}
