//! `preprocessor_config.json` (or a named preset) to a list of steps: resize, centre crop,
//! rescale and normalise, written straight into one image's slot of the batch tensor.

use std::cell::RefCell;
use std::path::Path;

use anyhow::{bail, Context};
use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::RgbImage;
use serde::Deserialize;
use serde_json::Value;

use crate::cli::PreprocessPreset;
use crate::decode::{Region, Target};

const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
// Digits as in the published CLIP config, so the preset equals the parsed file.
#[allow(clippy::excessive_precision)]
const CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_11];
const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resize {
    /// Scale so that the short side is this long, keeping the aspect ratio.
    ShortestEdge(u32),
    /// Scale to exactly this height and width.
    Exact { height: u32, width: u32 },
}

/// Pixel order of the model input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `[batch, 3, height, width]`, as exported vision transformers and CNNs take.
    Nchw,
    /// `[batch, height, width, 3]`.
    Nhwc,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Preprocessor {
    pub resize: Option<Resize>,
    pub filter: ResizeAlg,
    pub crop: Option<(u32, u32)>,
    pub rescale: Option<f32>,
    pub normalize: Option<([f32; 3], [f32; 3])>,
}

/// The subset of Hugging Face image-processor fields that decide the tensor.
#[derive(Debug, Deserialize)]
struct ProcessorConfig {
    image_processor_type: Option<String>,
    feature_extractor_type: Option<String>,
    do_resize: Option<bool>,
    size: Option<Value>,
    resample: Option<u8>,
    do_center_crop: Option<bool>,
    crop_size: Option<Value>,
    crop_pct: Option<f32>,
    do_rescale: Option<bool>,
    rescale_factor: Option<f32>,
    do_normalize: Option<bool>,
    image_mean: Option<[f32; 3]>,
    image_std: Option<[f32; 3]>,
}

impl Preprocessor {
    pub fn from_preset(preset: PreprocessPreset) -> Self {
        match preset {
            PreprocessPreset::Clip => Self {
                resize: Some(Resize::ShortestEdge(224)),
                filter: pil_filter(3),
                crop: Some((224, 224)),
                rescale: Some(1.0 / 255.0),
                normalize: Some((CLIP_MEAN, CLIP_STD)),
            },
            PreprocessPreset::Siglip => Self {
                resize: Some(Resize::Exact { height: 224, width: 224 }),
                filter: pil_filter(3),
                crop: None,
                rescale: Some(1.0 / 255.0),
                normalize: Some(([0.5; 3], [0.5; 3])),
            },
            PreprocessPreset::Imagenet => Self {
                resize: Some(Resize::ShortestEdge(256)),
                filter: pil_filter(2),
                crop: Some((224, 224)),
                rescale: Some(1.0 / 255.0),
                normalize: Some((IMAGENET_MEAN, IMAGENET_STD)),
            },
        }
    }

    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        Self::from_json(&text).with_context(|| format!("cannot use {}", path.display()))
    }

    /// Follows transformers' CLIP, SigLIP, ViT and ConvNeXt image processors.
    pub fn from_json(text: &str) -> anyhow::Result<Self> {
        let config: ProcessorConfig = serde_json::from_str(text).context("invalid preprocessor config")?;
        let kind = config.image_processor_type.or(config.feature_extractor_type).unwrap_or_default();
        let bicubic_by_default = kind.starts_with("CLIP") || kind.starts_with("Siglip") || kind.starts_with("ConvNext");
        let filter = pil_filter(config.resample.unwrap_or(if bicubic_by_default { 3 } else { 2 }));
        let size = config.size.as_ref().map(parse_size).transpose().context("invalid `size`")?;
        let mut crop = match config.do_center_crop {
            Some(false) => None,
            _ => {
                config.crop_size.as_ref().map(parse_size).transpose().context("invalid `crop_size`")?.map(|s| match s {
                    Resize::Exact { height, width } => (height, width),
                    Resize::ShortestEdge(edge) => (edge, edge),
                })
            }
        };
        let mut resize = if config.do_resize == Some(false) { None } else { size };
        if kind.starts_with("ConvNext") {
            // ConvNeXt: below 384 resize the short side to edge/crop_pct, then crop edge x edge.
            if let Some(Resize::ShortestEdge(edge)) = resize {
                if edge < 384 {
                    let crop_pct = config.crop_pct.unwrap_or(224.0 / 256.0);
                    resize = Some(Resize::ShortestEdge((edge as f32 / crop_pct) as u32));
                    crop = Some((edge, edge));
                } else {
                    resize = Some(Resize::Exact { height: edge, width: edge });
                }
            }
        }
        let rescale = match config.do_rescale {
            Some(false) => None,
            _ => Some(config.rescale_factor.unwrap_or(1.0 / 255.0)),
        };
        let normalize = match config.do_normalize {
            Some(false) => None,
            _ => Some((config.image_mean.unwrap_or(IMAGENET_MEAN), config.image_std.unwrap_or(IMAGENET_STD))),
        };
        if resize.is_none() && crop.is_none() {
            bail!("neither `size` nor `crop_size` is set, so the input size is unknown");
        }
        Ok(Self { resize, filter, crop, rescale, normalize })
    }

    /// Height and width of the tensor this produces.
    pub fn output_size(&self) -> (u32, u32) {
        match (self.crop, self.resize) {
            (Some(crop), _) => crop,
            (None, Some(Resize::Exact { height, width })) => (height, width),
            (None, Some(Resize::ShortestEdge(edge))) => (edge, edge),
            (None, None) => (0, 0),
        }
    }

    /// Size after the resize step, following transformers' rounding (truncation of the long side).
    fn resized_size(&self, width: u32, height: u32) -> (u32, u32) {
        match self.resize {
            None => (width, height),
            Some(Resize::Exact { height, width }) => (width, height),
            Some(Resize::ShortestEdge(edge)) if width <= height => {
                (edge, ((f64::from(edge) * f64::from(height) / f64::from(width)) as u32).max(1))
            }
            Some(Resize::ShortestEdge(edge)) => {
                (((f64::from(edge) * f64::from(width) / f64::from(height)) as u32).max(1), edge)
            }
        }
    }

    /// The smallest decoded image the resize can start from without losing detail.
    pub fn decode_target(&self) -> Target {
        match self.resize {
            None => Target::Full,
            Some(Resize::ShortestEdge(edge)) => Target::ShortSide(edge),
            Some(Resize::Exact { height, width }) => Target::Size { width, height },
        }
    }

    /// Refuses a sliver such as 10x100000, which would resize to 224x2240000.
    pub fn check_size(&self, width: u32, height: u32) -> Result<(), String> {
        let (resized_w, resized_h) = self.resized_size(width, height);
        if u64::from(resized_w) * u64::from(resized_h) > MAX_RESIZED_PIXELS {
            return Err(format!("a {width}x{height} image would resize to {resized_w}x{resized_h}; too elongated"));
        }
        Ok(())
    }

    /// Writes one full-size image into `slot`, which holds exactly `3 * height * width` floats.
    pub fn apply(&self, image: &RgbImage, layout: Layout, slot: &mut [f32]) -> anyhow::Result<()> {
        let (width, height) = image.dimensions();
        self.apply_region(image, Region::whole(width, height), (width, height), layout, slot)
    }

    /// Writes into `slot` the picture of `size` (its full-size width and height) that
    /// `region` of `pixels` shows, as from a reduced-scale decode. The resize starts from that
    /// fractional region and ends at the size the full image would resize to, so the tensor
    /// has the full decode's geometry.
    pub fn apply_region(
        &self,
        pixels: &RgbImage,
        region: Region,
        (width, height): (u32, u32),
        layout: Layout,
        slot: &mut [f32],
    ) -> anyhow::Result<()> {
        let (out_h, out_w) = self.output_size();
        debug_assert_eq!(slot.len(), 3 * out_h as usize * out_w as usize);
        let (resized_w, resized_h) = self.resized_size(width, height);
        self.check_size(width, height).map_err(anyhow::Error::msg)?;
        SCRATCH.with_borrow_mut(|scratch| {
            let Scratch { resizer, wide, resized } = scratch;
            // Two one-dimensional passes, horizontal first, each rounded to 8 bits: Pillow's
            // order. fast_image_resize alone runs the vertical pass first for u8 images, which
            // moved CLIP embeddings of photos by up to 1e-3 in cosine.
            let mut source = pixels;
            let whole = Region::whole(pixels.width(), pixels.height());
            if resized_w != pixels.width() || (region.left, region.width) != (whole.left, whole.width) {
                let options = self.resize_options().crop(region.left, 0.0, region.width, whole.height);
                resize_into(resizer, source, wide, (resized_w, source.height()), &options)?;
                source = wide;
            }
            if resized_h != pixels.height() || (region.top, region.height) != (whole.top, whole.height) {
                let options = self.resize_options().crop(0.0, region.top, f64::from(resized_w), region.height);
                resize_into(resizer, source, resized, (resized_w, resized_h), &options)?;
                source = resized;
            }
            self.crop_and_normalize(source, layout, (out_h, out_w), slot);
            Ok(())
        })
    }

    fn resize_options(&self) -> ResizeOptions {
        ResizeOptions::new().resize_alg(self.filter)
    }

    /// Centre crop as transformers does: offsets rounded down, zero padding where the image is smaller.
    fn crop_and_normalize(&self, image: &RgbImage, layout: Layout, (out_h, out_w): (u32, u32), slot: &mut [f32]) {
        let (out_h, out_w) = (out_h as usize, out_w as usize);
        let (in_h, in_w) = (image.height() as usize, image.width() as usize);
        let top = (in_h as i64 - out_h as i64) / 2;
        let left = (in_w as i64 - out_w as i64) / 2;
        let scale = self.rescale.unwrap_or(1.0);
        let (mean, std) = self.normalize.unwrap_or(([0.0; 3], [1.0; 3]));
        // value = (pixel * scale - mean) / std, folded into one multiply-add per channel.
        let gain: [f32; 3] = std::array::from_fn(|c| scale / std[c]);
        let offset: [f32; 3] = std::array::from_fn(|c| -mean[c] / std[c]);
        let plane = out_h * out_w;
        // Padding is pixel value 0, as transformers pads before normalising. Without padding
        // the loop below writes every value, so the fill is skipped.
        if in_h < out_h || in_w < out_w {
            match layout {
                Layout::Nchw => slot.chunks_exact_mut(plane).zip(offset).for_each(|(channel, o)| channel.fill(o)),
                Layout::Nhwc => slot.chunks_exact_mut(3).for_each(|pixel| pixel.copy_from_slice(&offset)),
            }
        }
        let raw = image.as_raw();
        // Output columns that fall inside the image, and where they start in the source row.
        let first_x = (-left).max(0) as usize;
        let last_x = ((in_w as i64 - left).min(out_w as i64)).max(0) as usize;
        for y in 0..out_h {
            let source_y = top + y as i64;
            if source_y < 0 || source_y >= in_h as i64 || first_x >= last_x {
                continue;
            }
            let row_start = (source_y as usize * in_w + (left + first_x as i64) as usize) * 3;
            let row = &raw[row_start..row_start + (last_x - first_x) * 3];
            for (x, pixel) in (first_x..last_x).zip(row.chunks_exact(3)) {
                for c in 0..3 {
                    let value = f32::from(pixel[c]) * gain[c] + offset[c];
                    match layout {
                        Layout::Nchw => slot[c * plane + y * out_w + x] = value,
                        Layout::Nhwc => slot[(y * out_w + x) * 3 + c] = value,
                    }
                }
            }
        }
    }
}

/// Largest intermediate image the resize may produce (64x a 512x512 input).
const MAX_RESIZED_PIXELS: u64 = 64 * 512 * 512;

struct Scratch {
    resizer: Resizer,
    /// After the horizontal pass.
    wide: RgbImage,
    /// After both passes.
    resized: RgbImage,
}

thread_local! {
    // One resizer and its buffers per decode thread, reused across images.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch {
        resizer: Resizer::new(),
        wide: RgbImage::new(0, 0),
        resized: RgbImage::new(0, 0),
    });
}

fn resize_into(
    resizer: &mut Resizer,
    source: &RgbImage,
    target: &mut RgbImage,
    (width, height): (u32, u32),
    options: &ResizeOptions,
) -> anyhow::Result<()> {
    if target.dimensions() != (width, height) {
        *target = RgbImage::new(width, height);
    }
    resizer.resize(source, target, options).context("resize failed")
}

/// PIL's resample codes, as stored in `preprocessor_config.json`.
fn pil_filter(code: u8) -> ResizeAlg {
    match code {
        0 => ResizeAlg::Nearest,
        1 => ResizeAlg::Convolution(FilterType::Lanczos3),
        2 => ResizeAlg::Convolution(FilterType::Bilinear),
        4 => ResizeAlg::Convolution(FilterType::Box),
        5 => ResizeAlg::Convolution(FilterType::Hamming),
        // 3 is PIL's bicubic, the Catmull-Rom kernel (a = -0.5).
        _ => ResizeAlg::Convolution(FilterType::CatmullRom),
    }
}

/// `{"shortest_edge": n}`, `{"height": h, "width": w}` or a bare number (square).
fn parse_size(value: &Value) -> anyhow::Result<Resize> {
    let field = |name: &str| value.get(name).and_then(Value::as_u64).map(|n| n as u32);
    if let Some(edge) = field("shortest_edge") {
        return Ok(Resize::ShortestEdge(edge));
    }
    if let (Some(height), Some(width)) = (field("height"), field("width")) {
        return Ok(Resize::Exact { height, width });
    }
    if let Some(n) = value.as_u64() {
        return Ok(Resize::Exact { height: n as u32, width: n as u32 });
    }
    bail!("expected {{\"shortest_edge\": N}} or {{\"height\": H, \"width\": W}}, found {value}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIP_CONFIG: &str = r#"{"crop_size": {"height":224,"width":224}, "do_center_crop": true,
        "do_convert_rgb": true, "do_normalize": true, "do_rescale": true, "do_resize": true,
        "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_processor_type": "CLIPImageProcessor",
        "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3,
        "rescale_factor": 0.00392156862745098, "size": {"shortest_edge": 224}}"#;

    #[test]
    fn clip_config_matches_the_clip_preset() {
        let parsed = Preprocessor::from_json(CLIP_CONFIG).unwrap();
        assert_eq!(parsed, Preprocessor::from_preset(PreprocessPreset::Clip));
        assert_eq!(parsed.output_size(), (224, 224));
    }

    #[test]
    fn shortest_edge_truncates_the_long_side_like_transformers() {
        let clip = Preprocessor::from_preset(PreprocessPreset::Clip);
        assert_eq!(clip.resized_size(640, 480), (298, 224));
        assert_eq!(clip.resized_size(480, 641), (224, 299));
    }

    #[test]
    fn siglip_and_convnext_sizes() {
        let siglip = r#"{"image_processor_type": "SiglipImageProcessor", "size": {"height": 384, "width": 384},
            "image_mean": [0.5,0.5,0.5], "image_std": [0.5,0.5,0.5]}"#;
        assert_eq!(Preprocessor::from_json(siglip).unwrap().output_size(), (384, 384));
        let convnext =
            r#"{"image_processor_type": "ConvNextImageProcessor", "size": {"shortest_edge": 224}, "crop_pct": 0.875}"#;
        let parsed = Preprocessor::from_json(convnext).unwrap();
        assert_eq!(parsed.resize, Some(Resize::ShortestEdge(256)));
        assert_eq!(parsed.output_size(), (224, 224));
    }

    #[test]
    fn pads_with_zero_pixels_where_the_image_is_smaller_than_the_crop() {
        let siglip_no_resize =
            Preprocessor { resize: None, crop: Some((4, 4)), ..Preprocessor::from_preset(PreprocessPreset::Siglip) };
        let image = RgbImage::from_pixel(2, 2, image::Rgb([255, 255, 255]));
        let mut slot = vec![9.0; 3 * 4 * 4];
        siglip_no_resize.apply(&image, Layout::Nhwc, &mut slot).unwrap();
        let at = |y: usize, x: usize| slot[(y * 4 + x) * 3];
        assert_eq!(at(0, 0), -1.0, "padding is pixel 0, normalised");
        assert_eq!(at(1, 1), 1.0, "the image sits in the centre");
        assert_eq!(at(2, 2), 1.0);
        assert_eq!(at(3, 3), -1.0);
    }

    #[test]
    fn a_reduced_image_with_its_region_gives_the_full_image_tensor() {
        let (width, height) = (1003, 757);
        let wave = |x: u32, y: u32| 128.0 + 100.0 * ((x as f32 / 37.0).sin() * (y as f32 / 53.0).cos());
        let full = RgbImage::from_fn(width, height, |x, y| image::Rgb([wave(x, y) as u8, (y / 3) as u8, 50]));
        // What a 1/4 DCT-scale decode gives: 4x4 block means, the last column and row padded
        // by repeating the edge, as JPEG encoders do.
        let reduced = RgbImage::from_fn(width.div_ceil(4), height.div_ceil(4), |bx, by| {
            let mut sum = [0u32; 3];
            for (x, y) in (0..4).flat_map(|dy| (0..4).map(move |dx| (bx * 4 + dx, by * 4 + dy))) {
                let pixel = full.get_pixel(x.min(width - 1), y.min(height - 1)).0;
                (0..3).for_each(|c| sum[c] += u32::from(pixel[c]));
            }
            image::Rgb(sum.map(|s| ((s + 8) / 16) as u8))
        });
        let clip = Preprocessor::from_preset(PreprocessPreset::Clip);
        let mut expected = vec![0.0; 3 * 224 * 224];
        clip.apply(&full, Layout::Nchw, &mut expected).unwrap();
        let region = Region { left: 0.0, top: 0.0, width: width as f64 / 4.0, height: height as f64 / 4.0 };
        let mut got = vec![0.0; 3 * 224 * 224];
        clip.apply_region(&reduced, region, (width, height), Layout::Nchw, &mut got).unwrap();
        // In 8-bit levels: one level is about 0.015 after normalisation.
        let levels: Vec<f32> = expected.iter().zip(&got).map(|(a, b)| (a - b).abs() * 0.27 * 255.0).collect();
        let mean = levels.iter().sum::<f32>() / levels.len() as f32;
        let max = levels.iter().copied().fold(0.0, f32::max);
        assert!(mean < 0.5 && max < 3.0, "mean {mean} max {max} levels");
        // Without the region, the padding column and row stretch the picture.
        clip.apply(&reduced, Layout::Nchw, &mut got).unwrap();
        let shifted = expected.iter().zip(&got).map(|(a, b)| (a - b).abs() * 0.27 * 255.0).sum::<f32>();
        assert!(shifted / levels.len() as f32 > 2.0 * mean, "{shifted} vs {mean}");
    }

    #[test]
    fn writes_normalised_planes() {
        let image = RgbImage::from_pixel(300, 224, image::Rgb([255, 0, 128]));
        let clip = Preprocessor::from_preset(PreprocessPreset::Clip);
        let mut slot = vec![0.0; 3 * 224 * 224];
        clip.apply(&image, Layout::Nchw, &mut slot).unwrap();
        let expected_red = (1.0 - CLIP_MEAN[0]) / CLIP_STD[0];
        let expected_green = (0.0 - CLIP_MEAN[1]) / CLIP_STD[1];
        assert!((slot[0] - expected_red).abs() < 1e-4);
        assert!((slot[224 * 224 + 17] - expected_green).abs() < 1e-4);
    }
}
