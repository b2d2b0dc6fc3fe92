//! SynthFace: a small face-like dataset the project generates itself, so that training,
//! evaluation and the fairness report run on any machine without downloading anything.
//!
//! Each image is a face-shaped ellipse on a noisy background, with two eyes and a mouth.
//! The target attribute `smiling` is carried by a small local cue only: the mouth is an arc
//! (`yes`) or nearly straight (`no`). Sensitive attributes: `tone` (four skin tones I-IV)
//! and `sex` (a narrower or wider face, no effect on the cue). The disparity is built in:
//! tone IV is under-represented (10 % of the images) and its features have a lower contrast
//! against the skin, so a classifier has less and weaker evidence for that group. The
//! fairness report therefore has a real gap to show.

use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::Manifest;
use crate::error::{DataError, Result};
use crate::sample::FaceDataset;
use crate::split::SplitConfig;

/// Skin tones (RGB) of the four groups, lightest to darkest.
const TONES: [(&str, [f32; 3]); 4] = [
    ("I", [236.0, 200.0, 170.0]),
    ("II", [205.0, 160.0, 120.0]),
    ("III", [150.0, 105.0, 75.0]),
    ("IV", [95.0, 65.0, 45.0]),
];
/// Share of each tone in the data: tone IV is the under-represented group.
const TONE_SHARE: [f64; 4] = [0.3, 0.3, 0.3, 0.1];
/// How much darker than the skin the eyes and mouth are; tone IV's are fainter.
const FEATURE_CONTRAST: [f32; 4] = [0.55, 0.55, 0.5, 0.22];
/// The label file written next to the images.
const LABELS: &str = "labels.csv";
/// The settings the set was generated with, written next to the labels.
const SETTINGS: &str = "synthface.json";

/// What a generated set is: the settings it was drawn with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Generated {
    images: usize,
    size: u32,
    seed: u64,
}

impl std::fmt::Display for Generated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "images = {}, size = {}, seed = {}",
            self.images, self.size, self.seed
        )
    }
}

/// SynthFace at `root`: generated there on first use (deterministic for a seed), then read
/// like a [`Manifest`] dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SynthFace {
    /// Folder of the generated images and `labels.csv`.
    pub root: PathBuf,
    /// Number of images.
    #[serde(default = "default_images")]
    pub images: usize,
    /// Side of the square images in pixels.
    #[serde(default = "default_size")]
    pub size: u32,
    /// Seed of the generator.
    #[serde(default)]
    pub seed: u64,
}

fn default_images() -> usize {
    2000
}
fn default_size() -> u32 {
    64
}

impl SynthFace {
    /// Default settings at `root`.
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            images: default_images(),
            size: default_size(),
            seed: 0,
        }
    }

    /// Generates the images when `root/labels.csv` is absent, then reads them.
    ///
    /// # Errors
    /// The folder holds a set generated with other settings (`images`, `size`, `seed`):
    /// which one to train on is the user's choice, so neither is taken silently.
    pub fn load(&self, split: &SplitConfig) -> Result<FaceDataset> {
        if self.root.join(LABELS).is_file() {
            self.check_settings()?;
        } else {
            self.generate()?;
        }
        let mut manifest = Manifest::new(self.root.clone());
        manifest.csv = LABELS.into();
        manifest.target = "smiling".to_owned();
        manifest.sensitive = vec!["tone".to_owned(), "sex".to_owned()];
        let mut dataset = manifest.load(split)?;
        dataset.name = "synthface".to_owned();
        Ok(dataset)
    }

    fn settings(&self) -> Generated {
        Generated {
            images: self.images,
            size: self.size,
            seed: self.seed,
        }
    }

    /// The set in `root` is the one these settings generate. A set without its settings
    /// file (generated before it was written) is read as it is, saying so.
    fn check_settings(&self) -> Result<()> {
        let path = self.root.join(SETTINGS);
        let Ok(text) = std::fs::read_to_string(&path) else {
            tracing::warn!(root = %self.root.display(), "a SynthFace set without {SETTINGS}: read as it is, whatever the config's images, size and seed");
            return Ok(());
        };
        let found: Generated = serde_json::from_str(&text)
            .map_err(|e| DataError::parse(&path, e.line() as u64, e.to_string()))?;
        if found == self.settings() {
            return Ok(());
        }
        Err(DataError::Config(format!(
            "synthface: {} holds a set generated with {found}, not the {} asked; give another \
             root (data.root or --data), or delete the folder to generate it again",
            self.root.display(),
            self.settings()
        )))
    }

    /// Writes the images and `labels.csv` into `root`. The files go to a temporary sibling
    /// folder first, renamed at the end, so an interrupted generation leaves nothing half
    /// written behind.
    ///
    /// # Errors
    /// The size is under 16 px, or `root` exists and holds anything: generation never
    /// replaces a folder it did not write (a mistyped `--data` would lose its files).
    pub fn generate(&self) -> Result<()> {
        if self.size < 16 {
            return Err(DataError::Config(format!(
                "synthface: size {} is too small (at least 16 px)",
                self.size
            )));
        }
        self.refuse_a_folder_in_use()?;
        let parent = self.root.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| DataError::io(parent, e))?;
        let staging = self
            .root
            .with_file_name(format!(".synthface-staging-{}", std::process::id()));
        let images = staging.join("images");
        std::fs::create_dir_all(&images).map_err(|e| DataError::io(&images, e))?;
        tracing::info!(root = %self.root.display(), images = self.images, size = self.size, "generating synthface");
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut csv = String::from("path,smiling,tone,sex\n");
        for i in 0..self.images {
            let face = Face::draw(&mut rng, self.size);
            let file = format!("images/{i:05}.png");
            let path = staging.join(&file);
            face.image
                .save(&path)
                .map_err(|e| DataError::io(&path, std::io::Error::other(e.to_string())))?;
            csv.push_str(&format!(
                "{file},{},{},{}\n",
                if face.smiling { "yes" } else { "no" },
                TONES[face.tone].0,
                if face.wide { "M" } else { "F" }
            ));
        }
        let labels = staging.join(LABELS);
        std::fs::write(&labels, csv).map_err(|e| DataError::io(&labels, e))?;
        let settings = staging.join(SETTINGS);
        let json = serde_json::to_string_pretty(&self.settings()).unwrap_or_default();
        std::fs::write(&settings, json).map_err(|e| DataError::io(&settings, e))?;
        if self.root.is_dir() {
            // Empty (checked above): the rename needs it gone.
            std::fs::remove_dir(&self.root).map_err(|e| DataError::io(&self.root, e))?;
        }
        std::fs::rename(&staging, &self.root).map_err(|e| DataError::io(&self.root, e))
    }

    /// Refuses to generate into a folder that holds anything: it is not a SynthFace set
    /// (that has `labels.csv`), so it is the user's.
    fn refuse_a_folder_in_use(&self) -> Result<()> {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return Ok(()); // absent: generated there
        };
        let held: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        if held.is_empty() {
            return Ok(());
        }
        Err(DataError::Config(format!(
            "synthface: {} holds {} file(s) or folder(s) (`{}`...) and no SynthFace set \
             ({LABELS}); SynthFace is generated into an absent or empty folder, never over \
             other files: give another root (data.root or --data), or read the folder as the \
             kind of dataset it holds",
            self.root.display(),
            held.len(),
            held[0]
        )))
    }
}

/// One generated face and its labels.
struct Face {
    image: RgbImage,
    smiling: bool,
    tone: usize,
    wide: bool,
}

impl Face {
    fn draw(rng: &mut ChaCha8Rng, size: u32) -> Self {
        let s = size as f32;
        let draw: f64 = rng.random();
        let mut cumulative = 0.0;
        let tone = TONE_SHARE
            .iter()
            .position(|share| {
                cumulative += share;
                draw < cumulative
            })
            .unwrap_or(TONE_SHARE.len() - 1);
        let smiling = rng.random_bool(0.5);
        let wide = rng.random_bool(0.5);
        let skin = TONES[tone].1;
        let contrast = FEATURE_CONTRAST[tone];
        // Face geometry with jitter.
        let cx = s * (0.5 + rng.random_range(-0.06..0.06));
        let cy = s * (0.5 + rng.random_range(-0.06..0.06));
        let scale = rng.random_range(0.85..1.1);
        let ry = s * 0.36 * scale;
        let rx = ry * if wide { 0.85 } else { 0.7 };
        let eye_y = cy - ry * 0.25;
        let eye_dx = rx * 0.42;
        let eye_r = (s * 0.045 * scale).max(1.0);
        let mouth_y = cy + ry * 0.45;
        let mouth_w = rx * rng.random_range(0.45..0.6);
        // Smile: corners up by `bend`; neutral: almost flat either way.
        let bend = if smiling {
            ry * rng.random_range(0.12..0.2)
        } else {
            ry * rng.random_range(-0.03..0.03)
        };
        let thickness = (s * 0.025).max(0.8);
        let background = [
            rng.random_range(40.0..220.0f32),
            rng.random_range(40.0..220.0f32),
            rng.random_range(40.0..220.0f32),
        ];
        let light = rng.random_range(0.85..1.15f32);
        let mut image = RgbImage::new(size, size);
        for (x, y, pixel) in image.enumerate_pixels_mut() {
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            let gradient = 0.8 + 0.4 * py / s;
            let mut colour = background.map(|c| c * gradient);
            let inside = ((px - cx) / rx).powi(2) + ((py - cy) / ry).powi(2) <= 1.0;
            if inside {
                colour = skin.map(|c| c * light);
                let eye = [cx - eye_dx, cx + eye_dx]
                    .iter()
                    .any(|ex| (px - ex).powi(2) + (py - eye_y).powi(2) <= eye_r * eye_r);
                let t = (px - cx) / mouth_w;
                let mouth = t.abs() <= 1.0 && {
                    let curve = mouth_y - bend * (t * t - 0.5) * 2.0;
                    (py - curve).abs() <= thickness
                };
                if eye || mouth {
                    colour = colour.map(|c| c * (1.0 - contrast));
                }
            }
            let noise: [f32; 3] = [
                rng.random_range(-14.0..14.0),
                rng.random_range(-14.0..14.0),
                rng.random_range(-14.0..14.0),
            ];
            *pixel = Rgb([0, 1, 2].map(|k| (colour[k] + noise[k]).clamp(0.0, 255.0) as u8));
        }
        Self {
            image,
            smiling,
            tone,
            wide,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A set is read again only by the settings that generated it: a config asking for
    /// more images (or another size or seed) at the same root is refused, naming both.
    #[test]
    fn a_set_generated_with_other_settings_is_named_not_read_silently() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("synthface");
        let small = SynthFace {
            images: 24,
            size: 16,
            ..SynthFace::new(root.clone())
        };
        assert_eq!(small.load(&SplitConfig::default()).unwrap().len(), 24);
        assert_eq!(small.load(&SplitConfig::default()).unwrap().len(), 24);
        for other in [
            SynthFace {
                images: 500,
                ..small.clone()
            },
            SynthFace {
                size: 32,
                ..small.clone()
            },
            SynthFace {
                seed: 7,
                ..small.clone()
            },
        ] {
            let error = other.load(&SplitConfig::default()).unwrap_err().to_string();
            assert_eq!(
                error,
                format!(
                    "synthface: {} holds a set generated with images = 24, size = 16, seed = 0, \
                     not the {} asked; give another root (data.root or --data), or delete the \
                     folder to generate it again",
                    root.display(),
                    other.settings()
                )
            );
        }
        // A set from before the settings were written down: read as it is.
        std::fs::remove_file(root.join(SETTINGS)).unwrap();
        let older = SynthFace {
            images: 500,
            ..small
        };
        assert_eq!(older.load(&SplitConfig::default()).unwrap().len(), 24);
    }

    /// A folder holding anything but a SynthFace set (a mistyped `--data`) is never
    /// generated over: its files stay, and the error says why.
    #[test]
    fn a_folder_of_other_files_is_never_generated_over() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("thesis");
        std::fs::create_dir_all(root.join("photos")).unwrap();
        std::fs::write(root.join("notes.txt"), "mine").unwrap();
        let error = SynthFace {
            images: 8,
            size: 16,
            ..SynthFace::new(root.clone())
        }
        .load(&SplitConfig::default())
        .unwrap_err()
        .to_string();
        assert!(
            error.starts_with(&format!(
                "synthface: {} holds 2 file(s) or folder(s) (`",
                root.display()
            )),
            "{error}"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("notes.txt")).unwrap(),
            "mine"
        );
        assert!(root.join("photos").is_dir());
        // An empty folder is generated into.
        let empty = dir.path().join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        let generated = SynthFace {
            images: 8,
            size: 16,
            ..SynthFace::new(empty)
        }
        .load(&SplitConfig::default())
        .unwrap();
        assert_eq!(generated.len(), 8);
    }
}
