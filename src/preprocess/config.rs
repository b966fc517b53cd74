//! The subset of Hugging Face's `preprocessor_config.json` that decides the tensor, read into
//! steps as transformers' CLIP, SigLIP, ViT and ConvNeXt image processors apply them.

use anyhow::{bail, Context};
use serde::Deserialize;
use serde_json::Value;

use super::{Filter, Resize, Step, IMAGENET_MEAN, IMAGENET_STD};

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

/// The steps after compositing, which every processor does first (`convert_rgb`).
pub(super) fn steps(text: &str) -> anyhow::Result<Vec<Step>> {
    let config: ProcessorConfig = serde_json::from_str(text).context("invalid preprocessor config")?;
    let kind = config.image_processor_type.or(config.feature_extractor_type).unwrap_or_default();
    let bicubic_by_default = kind.starts_with("CLIP") || kind.starts_with("Siglip") || kind.starts_with("ConvNext");
    let filter = Filter::from_pil(config.resample.unwrap_or(if bicubic_by_default { 3 } else { 2 }));
    let size = config.size.as_ref().map(parse_size).transpose().context("invalid `size`")?;
    let mut crop = match config.do_center_crop {
        Some(false) => None,
        _ => config.crop_size.as_ref().map(parse_size).transpose().context("invalid `crop_size`")?.map(|s| match s {
            Resize::Exact { height, width } => (height, width),
            Resize::ShortestEdge(edge) => (edge, edge),
        }),
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
    if resize.is_none() && crop.is_none() {
        bail!("neither `size` nor `crop_size` is set, so the input size is unknown");
    }
    let mut steps = Vec::new();
    steps.extend(resize.map(|size| Step::Resize { size, filter }));
    steps.extend(crop.map(|(height, width)| Step::CenterCrop { height, width }));
    if config.do_rescale != Some(false) {
        steps.push(Step::Rescale(config.rescale_factor.unwrap_or(1.0 / 255.0)));
    }
    if config.do_normalize != Some(false) {
        let mean = config.image_mean.unwrap_or(IMAGENET_MEAN);
        steps.push(Step::Normalize { mean, std: config.image_std.unwrap_or(IMAGENET_STD) });
    }
    Ok(steps)
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
