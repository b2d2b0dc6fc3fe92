//! Image files as people have them (issue 17, items 4, 5, 7, 14): truncated, stored sideways
//! with an EXIF orientation, PNG data under a `.jpg` name, empty.

#![allow(clippy::unwrap_used)] // Tests panic on failure by design.

use std::path::Path;

use fineface_data::{ImageFileError, image_size, open_image};
use image::{Rgb, RgbImage};

/// 16x8, the top-left 4x4 corner red, the rest blue: every orientation moves the corner
/// somewhere else.
fn marked() -> RgbImage {
    RgbImage::from_fn(16, 8, |x, y| {
        if x < 4 && y < 4 {
            Rgb([255, 0, 0])
        } else {
            Rgb([0, 0, 255])
        }
    })
}

fn jpeg_bytes(image: &RgbImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    bytes
}

/// A JPEG with an EXIF APP1 segment holding only the orientation tag (0x0112), as a phone
/// writes it: big-endian TIFF header, one IFD entry of type SHORT.
fn with_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes()); // count
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]); // value padding
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut app1 = b"Exif\x00\x00".to_vec();
    app1.extend(tiff);
    let mut out = jpeg[..2].to_vec(); // SOI
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend(app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Which corner of `image` is red: (right, bottom).
fn red_corner(image: &RgbImage) -> (bool, bool) {
    let (w, h) = image.dimensions();
    let corners = [(false, false), (true, false), (false, true), (true, true)];
    let red: Vec<(bool, bool)> = corners
        .into_iter()
        .filter(|&(right, bottom)| {
            let x = if right { w - 2 } else { 1 };
            let y = if bottom { h - 2 } else { 1 };
            image.get_pixel(x, y)[0] > 200
        })
        .collect();
    assert_eq!(red.len(), 1, "{red:?}");
    red[0]
}

#[test]
fn every_exif_orientation_is_applied_on_decode() {
    let dir = tempfile::tempdir().unwrap();
    let jpeg = jpeg_bytes(&marked());
    // EXIF value -> where the stored top-left corner is shown, and the shown size.
    let expected = [
        (1, (false, false), (16, 8)),
        (2, (true, false), (16, 8)),
        (3, (true, true), (16, 8)),
        (4, (false, true), (16, 8)),
        (5, (false, false), (8, 16)),
        (6, (true, false), (8, 16)),
        (7, (true, true), (8, 16)),
        (8, (false, true), (8, 16)),
    ];
    for (orientation, corner, size) in expected {
        let path = write(
            dir.path(),
            &format!("o{orientation}.jpg"),
            &with_orientation(&jpeg, orientation),
        );
        let image = open_image(&path).unwrap().to_rgb8();
        assert_eq!(image.dimensions(), size, "orientation {orientation}");
        assert_eq!(red_corner(&image), corner, "orientation {orientation}");
        assert_eq!(
            image_size(&path).unwrap(),
            size,
            "orientation {orientation}"
        );
    }
}

#[test]
fn a_jpeg_cut_in_half_is_truncated_not_scored() {
    let dir = tempfile::tempdir().unwrap();
    let noise = RgbImage::from_fn(64, 64, |x, y| {
        Rgb([(x * 7 + y * 13) as u8, (x * y) as u8, 9])
    });
    let whole = jpeg_bytes(&noise);
    let path = write(dir.path(), "half.jpg", &whole[..whole.len() / 2]);
    let error = open_image(&path).unwrap_err();
    assert!(
        matches!(error, ImageFileError::Truncated { format: "JPEG", .. }),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "the JPEG data ends early: the file is truncated ({} bytes)",
            whole.len() / 2
        )
    );
    assert!(
        image_size(&path).is_err(),
        "data check must not count it usable"
    );
    // Bytes after the end marker (some cameras append data) are still a whole image.
    let mut appended = whole.clone();
    appended.extend_from_slice(b"trailer");
    assert!(open_image(&write(dir.path(), "trailer.jpg", &appended)).is_ok());
    // A PNG without its IEND chunk.
    let mut png = Vec::new();
    noise
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let cut = write(dir.path(), "cut.png", &png[..png.len() - 20]);
    assert!(matches!(
        open_image(&cut).unwrap_err(),
        ImageFileError::Truncated { format: "PNG", .. }
    ));
}

#[test]
fn the_format_comes_from_the_content_not_the_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut png = Vec::new();
    marked()
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let path = write(dir.path(), "face.jpg", &png);
    let image = open_image(&path).unwrap().to_rgb8();
    assert_eq!(image, marked());
    let text = write(dir.path(), "notes.jpg", b"not an image at all");
    assert_eq!(
        open_image(&text).unwrap_err().to_string(),
        "not an image in a format this build reads (JPEG, PNG, WebP, BMP, GIF, TIFF; HEIC and AVIF need converting); it starts with bytes 6e 6f 74 20 61 6e 20 69"
    );
}

#[test]
fn an_empty_file_says_it_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "empty.jpg", b"");
    assert_eq!(
        open_image(&path).unwrap_err().to_string(),
        "the file is empty (0 bytes)"
    );
    assert_eq!(
        image_size(&path).unwrap_err().to_string(),
        "the file is empty (0 bytes)"
    );
}

#[test]
fn bytes_after_the_end_are_allowed_whatever_they_hold() {
    let dir = tempfile::tempdir().unwrap();
    let noise = RgbImage::from_fn(64, 64, |x, y| {
        Rgb([(x * 7 + y * 13) as u8, (x * y) as u8, 9])
    });
    // A phone's motion photo: a video after the JPEG, holding start-of-scan bytes and no end.
    let mut motion = jpeg_bytes(&noise);
    motion.extend_from_slice(b"\x00\x00\x00\x18ftypmp42\xff\xda\x00\x08 video data");
    motion.extend(std::iter::repeat_n(0x5a, 4000));
    assert!(open_image(&write(dir.path(), "motion.jpg", &motion)).is_ok());
    // A PNG with 2 KB after IEND.
    let mut png = Vec::new();
    noise
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png.extend(std::iter::repeat_n(0x17, 2048));
    assert!(open_image(&write(dir.path(), "trailer.png", &png)).is_ok());
    // Stray bytes between two segments (libjpeg warns and reads on): still whole.
    let whole = jpeg_bytes(&noise);
    let mut stray = whole[..2].to_vec();
    stray.extend_from_slice(&[0x00, 0x00, 0x00]);
    stray.extend_from_slice(&whole[2..]);
    assert!(!matches!(
        open_image(&write(dir.path(), "stray.jpg", &stray)),
        Err(ImageFileError::Truncated { .. })
    ));
    // Cut inside the scan, the same files are truncated whatever follows in the cut.
    let whole = jpeg_bytes(&noise);
    let cut = write(dir.path(), "cut.jpg", &whole[..whole.len() - 40]);
    assert!(matches!(
        open_image(&cut).unwrap_err(),
        ImageFileError::Truncated { .. }
    ));
}

#[test]
fn an_image_claiming_billions_of_pixels_is_refused_before_decoding() {
    let dir = tempfile::tempdir().unwrap();
    // A 16 x 16 JPEG whose frame header says 65000 x 65000: a few hundred bytes.
    let mut bomb = jpeg_bytes(&RgbImage::from_pixel(16, 16, Rgb([9, 9, 9])));
    let sof = bomb.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    bomb[sof + 5..sof + 9].copy_from_slice(&[0xFD, 0xE8, 0xFD, 0xE8]);
    let error = open_image(&write(dir.path(), "bomb.jpg", &bomb)).unwrap_err();
    assert!(
        matches!(
            error,
            ImageFileError::TooLarge {
                width: 65000,
                height: 65000,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("65000 x 65000 px"), "{error}");
    // The same for a PNG (its IHDR says 30000 x 30000).
    let mut png = Vec::new();
    RgbImage::from_pixel(16, 16, Rgb([9, 9, 9]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png[16..24].copy_from_slice(&[0, 0, 0x75, 0x30, 0, 0, 0x75, 0x30]);
    let crc = crc32fast::hash(&png[12..29]); // IHDR's type and data
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    let error = open_image(&write(dir.path(), "bomb.png", &png)).unwrap_err();
    assert!(
        matches!(
            error,
            ImageFileError::TooLarge {
                width: 30000,
                height: 30000,
                ..
            }
        ),
        "{error}"
    );
}

/// `image` encoded as `format`.
fn encoded(image: &RgbImage, format: image::ImageFormat) -> Vec<u8> {
    let mut bytes = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut bytes), format)
        .unwrap();
    bytes
}

/// Every format the build reads gives the image's pixels (lossless ones exactly, JPEG
/// within its error), whatever the extension says, in either case; cut in half, each is
/// refused, never scored.
#[test]
fn every_format_reads_under_any_extension_and_a_cut_one_is_refused() {
    use image::ImageFormat::{Bmp, Gif, Jpeg, Png, Tiff, WebP};
    let dir = tempfile::tempdir().unwrap();
    for (format, extension) in [
        (Png, "png"),
        (WebP, "webp"),
        (Bmp, "bmp"),
        (Gif, "gif"),
        (Tiff, "tif"),
        (Jpeg, "jpg"),
    ] {
        assert!(fineface_data::FORMATS.contains(&format));
        let bytes = encoded(&marked(), format);
        for name in [
            format!("face.{extension}"),
            format!("FACE.{}", extension.to_uppercase()),
            "lies.png".to_owned(),
            "no_extension".to_owned(),
        ] {
            let image = open_image(&write(dir.path(), &name, &bytes))
                .unwrap()
                .to_rgb8();
            if format == Jpeg {
                assert_eq!(red_corner(&image), (false, false), "{name}");
            } else {
                assert_eq!(image, marked(), "{format:?} as {name}");
            }
            assert_eq!(
                image_size(&write(dir.path(), &name, &bytes)).unwrap(),
                (16, 8)
            );
        }
        let cut = write(dir.path(), "cut", &bytes[..bytes.len() / 2]);
        assert!(open_image(&cut).is_err(), "{format:?} cut in half was read");
    }
}

/// A palette PNG (what image optimisers and GIF converters write) reads as its colours.
#[test]
fn a_palette_png_reads_as_its_colours() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, 16, 8);
        encoder.set_color(png::ColorType::Indexed);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_palette(vec![255, 0, 0, 0, 0, 255]);
        let mut writer = encoder.write_header().unwrap();
        let indices: Vec<u8> = marked().pixels().map(|p| u8::from(p[0] == 0)).collect();
        writer.write_image_data(&indices).unwrap();
    }
    let image = open_image(&write(dir.path(), "palette.png", &bytes)).unwrap();
    assert_eq!(image.to_rgb8(), marked());
}
