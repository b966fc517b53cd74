//! `preprocessor_config.json` (or a named preset) to a list of steps: composite over a
//! background, resize, centre crop, rescale and normalise, as transformers' image processors
//! apply them and fastembed-rs composes its transforms. The steps run as one fused pass that
//! writes straight into one image's slot of the batch tensor.

mod background;
mod config;
mod kernel;
mod legacy;

pub use background::Background;

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use anyhow::{bail, Context};
use fast_image_resize::{FilterType, ResizeAlg};

use crate::decode::{DecodeError, DecodeOptions, DecodedImage, Pixels, Target};
use crate::item::ErrorClass;

const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
// Digits as in the published CLIP config, so the preset equals the parsed file.
#[allow(clippy::excessive_precision)]
const CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_11];
const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// A named preprocessing, for a bare `.onnx` file without `preprocessor_config.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// Bicubic resize of the short side to 224, centre crop, CLIP mean/std.
    Clip,
    /// Bicubic resize to 224x224, mean/std 0.5.
    Siglip,
    /// Bilinear resize of the short side to 256, centre crop 224, ImageNet mean/std.
    Imagenet,
}

impl Preset {
    pub const ALL: [Preset; 3] = [Preset::Clip, Preset::Siglip, Preset::Imagenet];

    pub fn name(self) -> &'static str {
        match self {
            Self::Clip => "clip",
            Self::Siglip => "siglip",
            Self::Imagenet => "imagenet",
        }
    }
}

impl FromStr for Preset {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|preset| preset.name().eq_ignore_ascii_case(text))
            .ok_or_else(|| format!("`{text}` is not a preset: use clip, siglip or imagenet"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resize {
    /// Scale so that the short side is this long, keeping the aspect ratio.
    ShortestEdge(u32),
    /// Scale to exactly this height and width.
    Exact { height: u32, width: u32 },
}

/// Resampling filters, by PIL's names and codes as `preprocessor_config.json` stores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    Nearest,
    Lanczos,
    Bilinear,
    /// PIL's bicubic: the Catmull-Rom kernel (a = -0.5).
    Bicubic,
    Box,
    Hamming,
}

impl Filter {
    /// From PIL's resample code.
    pub fn from_pil(code: u8) -> Self {
        match code {
            0 => Self::Nearest,
            1 => Self::Lanczos,
            2 => Self::Bilinear,
            4 => Self::Box,
            5 => Self::Hamming,
            _ => Self::Bicubic,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Nearest => "nearest",
            Self::Lanczos => "lanczos",
            Self::Bilinear => "bilinear",
            Self::Bicubic => "bicubic",
            Self::Box => "box",
            Self::Hamming => "hamming",
        }
    }

    fn algorithm(self) -> ResizeAlg {
        match self {
            Self::Nearest => ResizeAlg::Nearest,
            Self::Lanczos => ResizeAlg::Convolution(FilterType::Lanczos3),
            Self::Bilinear => ResizeAlg::Convolution(FilterType::Bilinear),
            Self::Bicubic => ResizeAlg::Convolution(FilterType::CatmullRom),
            Self::Box => ResizeAlg::Convolution(FilterType::Box),
            Self::Hamming => ResizeAlg::Convolution(FilterType::Hamming),
        }
    }
}

/// One preprocessing step. A [`Preprocessor`] holds them in this order, each at most once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    /// Transparent pixels over a colour, as transformers' `convert_rgb` does over white.
    Composite(Background),
    Resize {
        size: Resize,
        filter: Filter,
    },
    /// Centre crop as transformers does: offsets rounded down, zero pixels where the image is smaller.
    CenterCrop {
        height: u32,
        width: u32,
    },
    /// Multiply each 8-bit value by this factor.
    Rescale(f32),
    /// `(value - mean) / std` per channel.
    Normalize {
        mean: [f32; 3],
        std: [f32; 3],
    },
}

impl Step {
    /// Position in the canonical order.
    fn rank(&self) -> u8 {
        match self {
            Self::Composite(_) => 0,
            Self::Resize { .. } => 1,
            Self::CenterCrop { .. } => 2,
            Self::Rescale(_) => 3,
            Self::Normalize { .. } => 4,
        }
    }
}

/// A stable description, the input of the preprocessing fingerprint that checkpoints store:
/// written out here, never taken from a `Debug` output that a dependency may change.
impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |values: &[f32; 3]| values.map(|v| v.to_string()).join(",");
        match self {
            Self::Composite(Background([r, g, b])) => write!(f, "composite over #{r:02x}{g:02x}{b:02x}"),
            Self::Resize { size: Resize::ShortestEdge(edge), filter } => {
                write!(f, "resize shortest_edge={edge} filter={}", filter.name())
            }
            Self::Resize { size: Resize::Exact { height, width }, filter } => {
                write!(f, "resize exact={height}x{width} filter={}", filter.name())
            }
            Self::CenterCrop { height, width } => write!(f, "center_crop {height}x{width}"),
            Self::Rescale(factor) => write!(f, "rescale {factor}"),
            Self::Normalize { mean, std } => write!(f, "normalize mean={} std={}", list(mean), list(std)),
        }
    }
}

/// The preprocessing of one model: its steps, run as one fused pass.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocessor {
    steps: Vec<Step>,
}

impl Preprocessor {
    /// Steps in the canonical order (composite, resize, crop, rescale, normalise), each at most
    /// once, with a resize or a crop to fix the tensor's size.
    pub fn new(mut steps: Vec<Step>) -> anyhow::Result<Self> {
        if !steps.iter().any(|step| step.rank() == 0) {
            steps.insert(0, Step::Composite(Background::WHITE));
        }
        if steps.windows(2).any(|pair| pair[0].rank() >= pair[1].rank()) {
            bail!("preprocessing steps out of order or repeated: {}", describe(&steps));
        }
        let preprocessor = Self { steps };
        if preprocessor.output_size() == (0, 0) {
            bail!("neither `size` nor `crop_size` is set, so the input size is unknown");
        }
        Ok(preprocessor)
    }

    pub fn from_preset(preset: Preset) -> Self {
        let steps = match preset {
            Preset::Clip => vec![
                Step::Resize { size: Resize::ShortestEdge(224), filter: Filter::Bicubic },
                Step::CenterCrop { height: 224, width: 224 },
                Step::Rescale(1.0 / 255.0),
                Step::Normalize { mean: CLIP_MEAN, std: CLIP_STD },
            ],
            Preset::Siglip => vec![
                Step::Resize { size: Resize::Exact { height: 224, width: 224 }, filter: Filter::Bicubic },
                Step::Rescale(1.0 / 255.0),
                Step::Normalize { mean: [0.5; 3], std: [0.5; 3] },
            ],
            Preset::Imagenet => vec![
                Step::Resize { size: Resize::ShortestEdge(256), filter: Filter::Bilinear },
                Step::CenterCrop { height: 224, width: 224 },
                Step::Rescale(1.0 / 255.0),
                Step::Normalize { mean: IMAGENET_MEAN, std: IMAGENET_STD },
            ],
        };
        Self { steps: [vec![Step::Composite(Background::WHITE)], steps].concat() }
    }

    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        Self::from_json(&text).with_context(|| format!("cannot use {}", path.display()))
    }

    /// Follows transformers' CLIP, SigLIP, ViT and ConvNeXt image processors.
    pub fn from_json(text: &str) -> anyhow::Result<Self> {
        Self::new(config::steps(text)?)
    }

    /// The same steps, compositing over `background`.
    pub fn with_background(mut self, background: Background) -> Self {
        self.steps[0] = Step::Composite(background);
        self
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    fn resize(&self) -> Option<(Resize, Filter)> {
        self.steps.iter().find_map(|step| match *step {
            Step::Resize { size, filter } => Some((size, filter)),
            _ => None,
        })
    }

    fn crop(&self) -> Option<(u32, u32)> {
        self.steps.iter().find_map(|step| match *step {
            Step::CenterCrop { height, width } => Some((height, width)),
            _ => None,
        })
    }

    fn background(&self) -> Background {
        self.steps
            .iter()
            .find_map(|step| match *step {
                Step::Composite(background) => Some(background),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// value = (pixel * rescale - mean) / std, as one gain and one offset per channel.
    fn affine(&self) -> ([f32; 3], [f32; 3]) {
        let mut gain = [1.0; 3];
        let mut offset = [0.0; 3];
        for step in &self.steps {
            match *step {
                Step::Rescale(factor) => gain = gain.map(|g| g * factor),
                Step::Normalize { mean, std } => {
                    gain = std::array::from_fn(|c| gain[c] / std[c]);
                    offset = std::array::from_fn(|c| (offset[c] - mean[c]) / std[c]);
                }
                _ => {}
            }
        }
        (gain, offset)
    }

    /// Height and width of the tensor this produces.
    pub fn output_size(&self) -> (u32, u32) {
        match (self.crop(), self.resize()) {
            (Some(crop), _) => crop,
            (None, Some((Resize::Exact { height, width }, _))) => (height, width),
            (None, Some((Resize::ShortestEdge(edge), _))) => (edge, edge),
            (None, None) => (0, 0),
        }
    }

    /// Floats in one image's tensor slot.
    pub fn slot_len(&self) -> usize {
        let (height, width) = self.output_size();
        3 * height as usize * width as usize
    }

    /// Size after the resize step, following transformers' rounding (truncation of the long side).
    fn resized_size(&self, width: u32, height: u32) -> (u32, u32) {
        match self.resize() {
            None => (width, height),
            Some((Resize::Exact { height, width }, _)) => (width, height),
            Some((Resize::ShortestEdge(edge), _)) if width <= height => {
                (edge, ((f64::from(edge) * f64::from(height) / f64::from(width)) as u32).max(1))
            }
            Some((Resize::ShortestEdge(edge), _)) => {
                (((f64::from(edge) * f64::from(width) / f64::from(height)) as u32).max(1), edge)
            }
        }
    }

    /// The smallest decoded image the resize can start from without losing detail.
    pub fn decode_target(&self) -> Target {
        match self.resize() {
            None => Target::Full,
            Some((Resize::ShortestEdge(edge), _)) => Target::ShortSide(edge),
            Some((Resize::Exact { height, width }, _)) => Target::Size { width, height },
        }
    }

    /// The fingerprint that a checkpoint records: these steps, and whether JPEGs are decoded
    /// at a reduced scale, so that a run never mixes vectors of both decodings unknowingly.
    pub fn fingerprint(&self, decode: &DecodeOptions) -> String {
        let mut text = format!("preprocess v2: {}", describe(&self.steps));
        if !decode.full_decode {
            text += "; jpeg at reduced scale";
        }
        crate::util::fingerprint(text.as_bytes())
    }

    /// The fingerprint that imbed 0.1 recorded for the same preprocessing, which it took from
    /// a `Debug` output; `None` where it cannot be told. Checkpoints that hold it are migrated.
    pub fn legacy_fingerprint(&self, decode: &DecodeOptions) -> Option<String> {
        legacy::fingerprint(self, decode.full_decode)
    }

    /// Writes a decoded image into `slot`, which holds exactly [`Self::slot_len`] floats. An
    /// image too elongated to resize fails as `too_large`, before any pixel is touched.
    pub fn apply(&self, image: &DecodedImage, layout: Layout, slot: &mut [f32]) -> Result<(), DecodeError> {
        let (width, height) = (image.width, image.height);
        let resized = self.resized_size(width, height);
        if u64::from(resized.0) * u64::from(resized.1) > MAX_RESIZED_PIXELS {
            return Err(DecodeError::new(
                ErrorClass::TooLarge,
                format!("a {width}x{height} image would resize to {}x{}; too elongated", resized.0, resized.1),
            ));
        }
        let pass = kernel::Pass {
            filter: self.resize().map_or(Filter::Bilinear, |(_, filter)| filter),
            resized,
            output: self.output_size(),
            affine: self.affine(),
            layout,
        };
        let mut run = |pixels: &image::RgbImage| kernel::run(&pass, pixels, image.region, slot);
        match &image.pixels {
            Pixels::Rgb(rgb) => run(rgb),
            Pixels::Rgba(rgba) => kernel::with_composite(rgba, self.background(), run),
        }
        .map_err(|error| DecodeError::new(ErrorClass::Corrupt, format!("{error:#}")))
    }
}

fn describe(steps: &[Step]) -> String {
    steps.iter().map(Step::to_string).collect::<Vec<_>>().join("; ")
}

/// Largest intermediate image the resize may produce (64x a 512x512 input).
const MAX_RESIZED_PIXELS: u64 = 64 * 512 * 512;

/// Pixel order of the model input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `[batch, 3, height, width]`, as exported vision transformers and CNNs take.
    Nchw,
    /// `[batch, height, width, 3]`.
    Nhwc,
}

#[cfg(test)]
mod tests;
