//! The annotated picture of a photo: the photo, each face's box, its five landmarks and its
//! label with probability, as an SVG. Shapes and text are drawn by the viewer (any browser),
//! so no font ships with the program and labels stay sharp at any zoom.

use std::io::Cursor;

use base64::Engine;
use fineface_detect::Face;
use image::RgbImage;
use image::codecs::jpeg::JpegEncoder;
use svg::Document;
use svg::node::element::{Circle, Image, Rectangle, Text, Title};

/// The embedded photo's longer side at most, in pixels (a 24 MP photo would make a 30 MB
/// picture); the shapes keep the photo's own pixel coordinates.
pub const EMBEDDED_SIDE: u32 = 1600;

/// A face to draw and its label (`"Female 0.93"`).
#[derive(Debug, Clone)]
pub struct Annotation {
    /// The face in the photo's pixels.
    pub face: Face,
    /// The text over its box.
    pub label: String,
}

/// The SVG of `photo` (titled `title`) with `faces` drawn in its pixel coordinates.
///
/// # Errors
/// When the photo cannot be encoded as JPEG (an image of 0 px).
pub fn annotated_svg(
    photo: &RgbImage,
    title: &str,
    faces: &[Annotation],
) -> Result<Document, image::ImageError> {
    let (w, h) = photo.dimensions();
    let embedded = embedded_jpeg(photo)?;
    let unit = f64::from(w.max(h)) / 400.0; // line width: a 400th of the longer side
    // Shown at the embedded photo's size; the shapes scale with it.
    let longer = u64::from(w.max(h).max(1));
    let shown_width = u64::from(w) * u64::from(EMBEDDED_SIDE).min(longer) / longer;
    let mut document = Document::new()
        .set("viewBox", (0, 0, w, h))
        .set("width", shown_width)
        .add(Title::new(title.to_owned()))
        .add(
            Image::new()
                .set("x", 0)
                .set("y", 0)
                .set("width", w)
                .set("height", h)
                .set("preserveAspectRatio", "none")
                .set("href", format!("data:image/jpeg;base64,{embedded}")),
        );
    for (k, annotation) in faces.iter().enumerate() {
        document = draw_face(document, k, annotation, unit);
    }
    Ok(document)
}

/// A face's box, landmarks and label.
fn draw_face(mut document: Document, k: usize, annotation: &Annotation, unit: f64) -> Document {
    let b = annotation.face.bbox;
    let (x, y) = (f64::from(b.x1), f64::from(b.y1));
    let (bw, bh) = (f64::from(b.width()), f64::from(b.height()));
    document = document.add(
        Rectangle::new()
            .set("x", x)
            .set("y", y)
            .set("width", bw)
            .set("height", bh)
            .set("fill", "none")
            .set("stroke", "#00e000")
            .set("stroke-width", unit),
    );
    for point in annotation.face.landmarks.points() {
        document = document.add(
            Circle::new()
                .set("cx", point.x)
                .set("cy", point.y)
                .set("r", 1.5 * unit)
                .set("fill", "#ff2020"),
        );
    }
    let size = (bw / 5.0).max(6.0 * unit);
    document.add(
        Text::new(format!("{k}: {}", annotation.label))
            .set("x", x)
            .set("y", (y - unit).max(size))
            .set("font-family", "sans-serif")
            .set("font-size", size)
            .set("fill", "white")
            .set("stroke", "black")
            .set("stroke-width", size / 8.0)
            .set("paint-order", "stroke"),
    )
}

/// The photo, shrunk to [`EMBEDDED_SIDE`] if longer, as base64 JPEG.
fn embedded_jpeg(photo: &RgbImage) -> Result<String, image::ImageError> {
    let (w, h) = photo.dimensions();
    let longer = w.max(h);
    let shrunk;
    let shown = if longer > EMBEDDED_SIDE {
        let scale = f64::from(EMBEDDED_SIDE) / f64::from(longer);
        let size = |v: u32| ((f64::from(v) * scale).round() as u32).max(1);
        shrunk = image::imageops::thumbnail(photo, size(w), size(h));
        &shrunk
    } else {
        photo
    };
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(Cursor::new(&mut bytes), 85).encode_image(shown)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}
