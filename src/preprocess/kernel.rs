//! The fused pass that runs a [`super::Preprocessor`]'s steps: resize in two one-dimensional
//! passes, then crop, rescale and normalise in one loop that writes the tensor slot.

use std::cell::RefCell;

use anyhow::Context;
use fast_image_resize::{ResizeOptions, Resizer};
use image::{RgbImage, RgbaImage};

use super::{Background, Filter, Layout};
use crate::decode::Region;

/// What one image's pass needs, resolved from the steps and the image's size.
pub(super) struct Pass {
    pub filter: Filter,
    /// Width and height after the resize step.
    pub resized: (u32, u32),
    /// Height and width of the tensor.
    pub output: (u32, u32),
    /// Per-channel gain and offset of rescale and normalise.
    pub affine: ([f32; 3], [f32; 3]),
    pub layout: Layout,
}

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

/// Composites `rgba` over `background` (rounded as transformers' `convert_rgb` does), then
/// runs `then` on the result. The copy is dropped at once rather than kept per thread: it can
/// be as large as the largest image, and the decode budget already reserved it.
pub(super) fn with_composite<T>(
    rgba: &RgbaImage,
    Background(under): Background,
    then: impl FnOnce(&RgbImage) -> T,
) -> T {
    let mut rgb = RgbImage::new(rgba.width(), rgba.height());
    for (out, pixel) in rgb.pixels_mut().zip(rgba.pixels()) {
        let [r, g, b, a] = pixel.0;
        let (a, rest) = (u16::from(a), 255 - u16::from(a));
        let over = |c: u8, under: u8| ((u16::from(c) * a + u16::from(under) * rest + 127) / 255) as u8;
        out.0 = [over(r, under[0]), over(g, under[1]), over(b, under[2])];
    }
    then(&rgb)
}

/// Writes into `slot` the picture that `region` of `pixels` shows (all of it, or a fraction
/// after a reduced-scale decode). The resize starts from that fractional region and ends at
/// the size the full image resizes to, so the tensor has the full decode's geometry.
pub(super) fn run(pass: &Pass, pixels: &RgbImage, region: Region, slot: &mut [f32]) -> anyhow::Result<()> {
    let (out_h, out_w) = pass.output;
    debug_assert_eq!(slot.len(), 3 * out_h as usize * out_w as usize);
    let (resized_w, resized_h) = pass.resized;
    SCRATCH.with_borrow_mut(|scratch| {
        let Scratch { resizer, wide, resized, .. } = scratch;
        // Two one-dimensional passes, horizontal first, each rounded to 8 bits: Pillow's
        // order. fast_image_resize alone runs the vertical pass first for u8 images, which
        // moved CLIP embeddings of photos by up to 1e-3 in cosine.
        let options = ResizeOptions::new().resize_alg(pass.filter.algorithm());
        let mut source = pixels;
        let whole = Region::whole(pixels.width(), pixels.height());
        if resized_w != pixels.width() || (region.left, region.width) != (whole.left, whole.width) {
            let options = options.clone().crop(region.left, 0.0, region.width, whole.height);
            resize_into(resizer, source, wide, (resized_w, source.height()), &options)?;
            source = wide;
        }
        if resized_h != pixels.height() || (region.top, region.height) != (whole.top, whole.height) {
            let options = options.crop(0.0, region.top, f64::from(resized_w), region.height);
            resize_into(resizer, source, resized, (resized_w, resized_h), &options)?;
            source = resized;
        }
        crop_and_normalize(pass, source, slot);
        Ok(())
    })
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

/// Centre crop as transformers does: offsets rounded down, zero padding where the image is
/// smaller; then one multiply-add per value.
fn crop_and_normalize(pass: &Pass, image: &RgbImage, slot: &mut [f32]) {
    let (out_h, out_w) = (pass.output.0 as usize, pass.output.1 as usize);
    let (in_h, in_w) = (image.height() as usize, image.width() as usize);
    let top = (in_h as i64 - out_h as i64) / 2;
    let left = (in_w as i64 - out_w as i64) / 2;
    let (gain, offset) = pass.affine;
    let plane = out_h * out_w;
    // Padding is pixel value 0, as transformers pads before normalising. Without padding
    // the loop below writes every value, so the fill is skipped.
    if in_h < out_h || in_w < out_w {
        match pass.layout {
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
                match pass.layout {
                    Layout::Nchw => slot[c * plane + y * out_w + x] = value,
                    Layout::Nhwc => slot[(y * out_w + x) * 3 + c] = value,
                }
            }
        }
    }
}
