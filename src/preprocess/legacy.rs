//! The preprocessing fingerprint of imbed 0.1, so that its checkpoints keep resuming. It was
//! the xxh3 of the `Debug` output of this struct (same names, same field types), with the
//! background and the JPEG scale appended; kept only to recognise those checkpoints.

use fast_image_resize::ResizeAlg;

use super::{Background, Resize, Step};

#[derive(Debug)]
#[allow(dead_code)] // read through Debug
struct Preprocessor {
    resize: Option<Resize>,
    filter: ResizeAlg,
    crop: Option<(u32, u32)>,
    rescale: Option<f32>,
    normalize: Option<([f32; 3], [f32; 3])>,
}

/// `None` without a resize step: 0.1 recorded the filter of the configuration even then,
/// which the steps no longer hold.
pub(super) fn fingerprint(current: &super::Preprocessor, full_decode: bool) -> Option<String> {
    let (_, filter) = current.resize()?;
    let mut old = Preprocessor { resize: None, filter: filter.algorithm(), crop: None, rescale: None, normalize: None };
    let mut background = Background::WHITE;
    for step in current.steps() {
        match *step {
            Step::Composite(colour) => background = colour,
            Step::Resize { size, .. } => old.resize = Some(size),
            Step::CenterCrop { height, width } => old.crop = Some((height, width)),
            Step::Rescale(factor) => old.rescale = Some(factor),
            Step::Normalize { mean, std } => old.normalize = Some((mean, std)),
        }
    }
    let mut text = format!("{old:?}");
    if background != Background::WHITE {
        text += &format!(" over {background}");
    }
    if !full_decode {
        text += " with reduced-scale JPEG decoding";
    }
    Some(crate::util::fingerprint(text.as_bytes()))
}
