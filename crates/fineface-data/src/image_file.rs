//! Reading one image file the way every part of FineFACE-rs reads it: the format from the
//! bytes (not the name), truncated files refused (a decoder would fill the missing part with
//! grey and score it), and the EXIF orientation applied (phone photos are stored sideways).

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

/// Why an image file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ImageFileError {
    /// The file cannot be read.
    #[error("cannot read the file: {0}")]
    Read(#[from] std::io::Error),
    /// The file is a symbolic link to something absent.
    #[error("a link to `{}`, which is absent", target.display())]
    BrokenLink {
        /// Where the link points.
        target: std::path::PathBuf,
    },
    /// The file is a symbolic link that leads back to itself.
    #[error("a link that loops back to itself (through `{}`)", target.display())]
    LinkLoop {
        /// The link on the loop.
        target: std::path::PathBuf,
    },
    /// The file has no bytes.
    #[error("the file is empty (0 bytes)")]
    Empty,
    /// The bytes are no image format this build reads ([`FORMATS`]).
    #[error(
        "not an image in a format this build reads (JPEG, PNG, WebP, BMP, GIF, TIFF; HEIC and \
         AVIF need converting); it starts with bytes {start}"
    )]
    UnknownFormat {
        /// The first bytes, in hex.
        start: String,
    },
    /// The image data stops before its end marker.
    #[error("the {format} data ends early: the file is truncated ({bytes} bytes)")]
    Truncated {
        /// The format found (`JPEG`, `PNG`).
        format: &'static str,
        /// The file's size.
        bytes: usize,
    },
    /// More pixels than any photo has: a decompression bomb (a few hundred bytes claiming
    /// 65000 x 65000 px), refused before the decoder allocates gigabytes for it.
    #[error(
        "the image claims {width} x {height} px ({megapixels} megapixels), above the \
         {MAX_MEGAPIXELS}-megapixel limit (a decompression bomb, or not a photo)"
    )]
    TooLarge {
        /// Width in pixels, as the header says.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// `width * height / 1e6`, rounded up.
        megapixels: u64,
    },
    /// The decoder refused the data.
    #[error("undecodable {format}: {message}")]
    Decode {
        /// The format found.
        format: &'static str,
        /// The decoder's message.
        message: String,
    },
}

/// The formats every image is read in, found from the file's first bytes: JPEG and PNG
/// (the datasets' own), and WebP, BMP, GIF (its first frame) and TIFF, as users' photos and
/// re-encoded mirrors come.
pub const FORMATS: [ImageFormat; 6] = [
    ImageFormat::Jpeg,
    ImageFormat::Png,
    ImageFormat::WebP,
    ImageFormat::Bmp,
    ImageFormat::Gif,
    ImageFormat::Tiff,
];

/// The most pixels an image may have, in millions: PIL's `DecompressionBombError` threshold
/// (twice its warning at 89.5 MP); the largest camera photos have about 100.
pub const MAX_MEGAPIXELS: u64 = 179;

/// The bytes of the file at `path`; a link that points at nothing or loops said as such.
fn read_bytes(path: &Path) -> Result<Vec<u8>, ImageFileError> {
    std::fs::read(path).map_err(|e| broken_link(path).unwrap_or(ImageFileError::Read(e)))
}

/// Why `path`, which cannot be followed, names nothing when a link is the cause: the link
/// (itself, or a folder above it) points at nothing, named by the end of its chain
/// ([`ImageFileError::BrokenLink`]), or loops ([`ImageFileError::LinkLoop`]). `None` when no
/// link is to blame (the file is absent, or readable).
pub fn broken_link(path: &Path) -> Option<ImageFileError> {
    if std::fs::metadata(path).is_ok() {
        return None;
    }
    match crate::locate::unresolved(path) {
        crate::locate::NotFound::BrokenLink(target) => Some(ImageFileError::BrokenLink { target }),
        crate::locate::NotFound::LinkLoop(target) => Some(ImageFileError::LinkLoop { target }),
        _ => None,
    }
}

/// Opens the image at `path`, whatever its extension, upright.
///
/// The format comes from the file's first bytes (a PNG saved as `.jpg` is a PNG); a JPEG
/// without an end-of-image marker after its last scan, or a PNG without its `IEND` chunk, is
/// [`ImageFileError::Truncated`]; one claiming more than [`MAX_MEGAPIXELS`] is
/// [`ImageFileError::TooLarge`] before it is decoded; the EXIF orientation (JPEG's APP1, 1-8) is applied as a
/// viewer applies it, so the pixels are those a person sees.
///
/// # Errors
/// An [`ImageFileError`] saying what is wrong with the file.
pub fn open_image(path: &Path) -> Result<DynamicImage, ImageFileError> {
    let bytes = read_bytes(path)?;
    let format = check_image_bytes(&bytes)?;
    let name = format_name(format);
    let decode_error = |e: image::ImageError| ImageFileError::Decode {
        format: name,
        message: e.to_string(),
    };
    let mut decoder = ImageReader::with_format(Cursor::new(&bytes), format)
        .into_decoder()
        .map_err(decode_error)?;
    let (width, height) = decoder.dimensions();
    let megapixels = (u64::from(width) * u64::from(height)).div_ceil(1_000_000);
    if megapixels > MAX_MEGAPIXELS {
        return Err(ImageFileError::TooLarge {
            width,
            height,
            megapixels,
        });
    }
    // A file whose EXIF block cannot be read is still an image: shown as stored.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    image.apply_orientation(orientation);
    Ok(image)
}

/// The size of the image at `path` as shown (width and height swapped for EXIF orientations
/// 5-8), after the checks of [`open_image`] that need no decoding: empty, unknown format,
/// truncated.
///
/// # Errors
/// An [`ImageFileError`] saying what is wrong with the file.
pub fn image_size(path: &Path) -> Result<(u32, u32), ImageFileError> {
    let bytes = read_bytes(path)?;
    let format = check_image_bytes(&bytes)?;
    let mut decoder = ImageReader::with_format(Cursor::new(&bytes), format)
        .into_decoder()
        .map_err(|e| ImageFileError::Decode {
            format: format_name(format),
            message: e.to_string(),
        })?;
    let (w, h) = decoder.dimensions();
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    use image::metadata::Orientation::{Rotate90, Rotate90FlipH, Rotate270, Rotate270FlipH};
    Ok(match orientation {
        Rotate90 | Rotate270 | Rotate90FlipH | Rotate270FlipH => (h, w),
        _ => (w, h),
    })
}

/// The format of `bytes`, after checking it is one of [`FORMATS`] and, for JPEG and PNG,
/// whose decoders fill a cut file with grey, that the file is whole (the other decoders
/// refuse a cut file themselves).
fn check_image_bytes(bytes: &[u8]) -> Result<ImageFormat, ImageFileError> {
    if bytes.is_empty() {
        return Err(ImageFileError::Empty);
    }
    let format = match image::guess_format(bytes) {
        Ok(f) if FORMATS.contains(&f) => f,
        _ => {
            let start: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
            return Err(ImageFileError::UnknownFormat {
                start: start.join(" "),
            });
        }
    };
    let whole = match format {
        ImageFormat::Jpeg => jpeg_has_end(bytes),
        ImageFormat::Png => png_has_end(bytes),
        _ => true,
    };
    if !whole {
        return Err(ImageFileError::Truncated {
            format: format_name(format),
            bytes: bytes.len(),
        });
    }
    Ok(format)
}

fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Png => "PNG",
        ImageFormat::WebP => "WebP",
        ImageFormat::Bmp => "BMP",
        ImageFormat::Gif => "GIF",
        ImageFormat::Tiff => "TIFF",
        _ => "image",
    }
}

/// Whether an end-of-image marker (`FF D9`) follows the start of the main image's scan: the
/// segments before it (EXIF with its thumbnail, tables) are stepped over by their lengths,
/// so bytes appended after the end (a phone's motion-photo video, a camera's trailer) do
/// not count, whatever they hold.
fn jpeg_has_end(bytes: &[u8]) -> bool {
    let mut pos = 2; // after SOI
    loop {
        // Fill bytes (`FF FF ...`) may precede a marker.
        while bytes.get(pos) == Some(&0xFF) && bytes.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        // Stray bytes before a marker (some cameras write them; libjpeg skips them with a
        // warning): on to the next `FF`.
        if bytes.get(pos).is_some_and(|&b| b != 0xFF) {
            match bytes[pos..].iter().position(|&b| b == 0xFF) {
                Some(skip) => pos += skip,
                None => return false,
            }
        }
        let (Some(0xFF), Some(&marker)) = (bytes.get(pos), bytes.get(pos + 1)) else {
            return false;
        };
        match marker {
            0xDA => break,                  // start of scan: the entropy-coded data follows
            0xD9 => return false,           // an end before any scan: no image
            0x01 | 0xD0..=0xD8 => pos += 2, // markers without a length
            _ => {
                let Some(length) = bytes.get(pos + 2..pos + 4) else {
                    return false;
                };
                pos += 2 + usize::from(u16::from_be_bytes([length[0], length[1]]));
            }
        }
    }
    bytes[pos..].windows(2).any(|w| w == [0xFF, 0xD9])
}

/// Whether the PNG's chunks, stepped over by their lengths from the signature, reach the
/// `IEND` chunk before the bytes end (bytes appended after it are allowed).
fn png_has_end(bytes: &[u8]) -> bool {
    let mut pos = 8; // after the signature
    while let Some(header) = bytes.get(pos..pos + 8) {
        if &header[4..8] == b"IEND" {
            return true;
        }
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        // Length, type, data and CRC, in 64 bits (a length near 4 GiB wraps a 32-bit usize).
        let next = u64::try_from(pos)
            .ok()
            .map(|p| p + 12 + u64::from(length))
            .and_then(|n| usize::try_from(n).ok());
        match next {
            Some(next) => pos = next,
            None => return false,
        }
    }
    false
}
