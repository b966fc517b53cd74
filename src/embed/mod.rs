//! The encoders: ONNX Runtime sessions owned by one thread. The image encoder is fed whole
//! batches of preprocessed slots; the text encoder (`text`) one tokenized text at a time.

pub mod combine;
mod model;
pub mod runtime;
pub mod text;

use std::path::Path;

use anyhow::{anyhow, bail, Context};
use ort::ep::ExecutionProvider;
use ort::memory::{AllocationDevice, Allocator, AllocatorType, MemoryInfo, MemoryType};
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::{Outlet, Tensor, TensorElementType, ValueType};

use crate::preprocess::Layout;
pub use model::{Device, ModelConfig, ResolvedModel};
pub use runtime::Runtime;
pub use text::{TextEncoder, TextModelConfig, TextTokenizer};

/// What a model does for imbed: preprocessed image slots in, one vector per slot out, in
/// order. The embed stage feeds [`Encoder`]; tests put in fakes that stall or fail.
pub trait Embed: Send {
    /// The batch size to use: the model's, when its input shape fixes one.
    fn batch_size(&self, requested: usize) -> usize;
    /// Embeds up to one batch of slots, one vector each, in order.
    fn embed(&mut self, slots: &[&[f32]]) -> anyhow::Result<Vec<Vec<f32>>>;
}

impl Embed for Encoder {
    fn batch_size(&self, requested: usize) -> usize {
        Encoder::batch_size(self, requested)
    }

    fn embed(&mut self, slots: &[&[f32]]) -> anyhow::Result<Vec<Vec<f32>>> {
        Encoder::embed(self, slots)
    }
}

/// Output names tried, in order, when `--output` is not given.
const PREFERRED_OUTPUTS: &[&str] = &["image_embeds", "embeddings", "pooler_output"];

pub struct Encoder {
    session: Session,
    input: String,
    output: String,
    layout: Layout,
    /// `(height, width)` of one image.
    image_size: (usize, usize),
    /// A batch size fixed by the model's input shape.
    static_batch: Option<usize>,
    dimension: usize,
    normalize: bool,
    /// Where the batch tensor lives: with CUDA, pinned host memory, which the GPU copies from
    /// directly instead of through a staging buffer; otherwise the default CPU allocator.
    staging: Allocator,
    /// The batch tensor, reused while the number of rows stays the same.
    batch: Option<Tensor<f32>>,
}

impl Encoder {
    /// Loads the model on its device with `intra_threads` ONNX Runtime threads.
    pub fn load(runtime: &Runtime, model: &ResolvedModel, intra_threads: usize) -> anyhow::Result<Self> {
        let config = &model.config;
        let session = build_session(runtime, &model.onnx, config.device, intra_threads)?;
        let input = &session.inputs()[pick_input(session.inputs())?];
        let output = &session.outputs()[pick_output(session.outputs(), config.output.as_deref())?];
        let input_shape = tensor_shape(input)?.to_vec();
        if input_shape.len() != 4 {
            bail!("model input `{}` has shape {input_shape:?}; expected [batch, 3, height, width]", input.name());
        }
        let layout = if input_shape[3] == 3 && input_shape[1] != 3 { Layout::Nhwc } else { Layout::Nchw };
        let (height, width) = model.preprocessor.output_size();
        let (model_h, model_w) = match layout {
            Layout::Nchw => (input_shape[2], input_shape[3]),
            Layout::Nhwc => (input_shape[1], input_shape[2]),
        };
        for (model, ours, what) in [(model_h, height, "height"), (model_w, width, "width")] {
            if model > 0 && model != i64::from(ours) {
                bail!("the model's input {what} is {model} but preprocessing produces {ours}; check --preprocess");
            }
        }
        let output_shape = tensor_shape(output)?.to_vec();
        if output_shape.len() != 2 {
            bail!(
                "model output `{}` has shape {:?}, not [batch, dimension]; choose another with --output",
                output.name(),
                output_shape
            );
        }
        let staging = staging_allocator(&session, config.device);
        let mut encoder = Self {
            input: input.name().to_string(),
            output: output.name().to_string(),
            static_batch: usize::try_from(input_shape[0]).ok().filter(|&n| n > 0),
            dimension: usize::try_from(output_shape[1]).unwrap_or(0),
            session,
            layout,
            image_size: (height as usize, width as usize),
            normalize: config.normalize,
            staging,
            batch: None,
        };
        if encoder.dimension == 0 {
            // A symbolic output dimension: one run on a blank image tells it.
            let blank = vec![0.0; encoder.slot_len()];
            let vectors = encoder.embed(&[&blank]).context("cannot run the model on a test image")?;
            encoder.dimension = vectors.first().map_or(0, Vec::len);
        }
        Ok(encoder)
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    pub fn dimension(&self) -> usize {
        self.dimension
    }

    pub fn input_name(&self) -> &str {
        &self.input
    }

    pub fn output_name(&self) -> &str {
        &self.output
    }

    pub fn static_batch(&self) -> Option<usize> {
        self.static_batch
    }

    /// The batch size to use: the model's, when its input shape fixes one.
    pub fn batch_size(&self, requested: usize) -> usize {
        self.static_batch.unwrap_or(requested.max(1))
    }

    fn slot_len(&self) -> usize {
        3 * self.image_size.0 * self.image_size.1
    }

    /// Embeds up to one batch of preprocessed images, one vector per slot, in order.
    pub fn embed(&mut self, slots: &[&[f32]]) -> anyhow::Result<Vec<Vec<f32>>> {
        let slot_len = self.slot_len();
        let rows = self.static_batch.unwrap_or(slots.len());
        if slots.len() > rows {
            bail!("{} images for a model with a fixed batch of {rows}", slots.len());
        }
        let batch = match self.batch.take() {
            Some(batch) if batch.shape()[0] == rows as i64 => batch,
            _ => {
                let (height, width) = self.image_size;
                let shape = match self.layout {
                    Layout::Nchw => [rows, 3, height, width],
                    Layout::Nhwc => [rows, height, width, 3],
                };
                Tensor::<f32>::new(&self.staging, shape)?
            }
        };
        let batch = self.batch.insert(batch);
        write_rows(batch, slots, slot_len)?;
        let outputs = self.session.run(ort::inputs![self.input.as_str() => batch.view()])?;
        let (shape, data) = outputs[self.output.as_str()].try_extract_tensor::<f32>()?;
        let dimension = usize::try_from(shape.last().copied().unwrap_or(0)).unwrap_or(0);
        if dimension == 0 || data.len() < slots.len() * dimension {
            bail!("model output `{}` has an unexpected shape {:?}", self.output, shape.to_vec());
        }
        Ok(data
            .chunks_exact(dimension)
            .take(slots.len())
            .map(|row| {
                let mut vector = row.to_vec();
                if self.normalize {
                    l2_normalize(&mut vector);
                }
                vector
            })
            .collect())
    }

    /// Inputs and outputs, as `name: Tensor<f32>(batch, 3, 224, 224)` lines.
    pub fn describe(&self) -> (Vec<String>, Vec<String>) {
        let describe = |outlets: &[Outlet]| outlets.iter().map(|o| format!("{}: {}", o.name(), o.dtype())).collect();
        (describe(self.session.inputs()), describe(self.session.outputs()))
    }
}

/// Writes `slots` into the rows of a batch tensor from the staging allocator, and zeros into
/// the padding rows of a fixed-size batch (their outputs are dropped). The tensor is host
/// memory (the CPU's, or CUDA's pinned memory) that ONNX Runtime allocated without
/// initialising it, so it is written through its raw pointer and never read or borrowed as a
/// slice. ort's `extract_tensor_mut` would refuse pinned memory: built for API 20, it takes
/// ONNX Runtime 1.23+'s word that pinned memory is on the GPU.
fn write_rows(tensor: &mut Tensor<f32>, slots: &[&[f32]], slot_len: usize) -> anyhow::Result<()> {
    let len = tensor.shape().num_elements();
    let rows = len.checked_div(slot_len).unwrap_or(0);
    if rows * slot_len != len || slots.len() > rows || slots.iter().any(|slot| slot.len() != slot_len) {
        bail!("a batch of {} slots does not fit a tensor of {len} values", slots.len());
    }
    let data = tensor.data_ptr_mut().cast::<f32>();
    if len == 0 || data.is_null() {
        return Ok(());
    }
    for (row, slot) in slots.iter().enumerate() {
        // SAFETY: `data` points to `len` f32 values owned by `tensor`, which `&mut` keeps
        // unaliased; row `row` < `rows` spans [row * slot_len, (row + 1) * slot_len), inside
        // them, and `slot` (checked above to hold `slot_len` values) is Rust memory that does
        // not overlap ONNX Runtime's.
        unsafe { std::ptr::copy_nonoverlapping(slot.as_ptr(), data.add(row * slot_len), slot_len) };
    }
    let padding = (rows - slots.len()) * slot_len;
    // SAFETY: the padding rows are the last `padding` values of the same `len`, inside the
    // tensor; writing zero bytes makes valid f32 zeros whatever was there before.
    unsafe { std::ptr::write_bytes(data.add(slots.len() * slot_len), 0, padding) };
    Ok(())
}

/// Pinned host memory for CUDA's input copies, or the CPU allocator when there is no CUDA
/// or ONNX Runtime cannot pin (a run then works as it would on unpinned memory).
fn staging_allocator(session: &Session, device: Device) -> Allocator {
    let Device::Cuda(id) = device else { return Allocator::default() };
    let pinned = MemoryInfo::new(AllocationDevice::CUDA_PINNED, id, AllocatorType::Device, MemoryType::CPUInput)
        .and_then(|memory| Allocator::new(session, memory));
    pinned.unwrap_or_else(|error| {
        tracing::warn!("cannot allocate pinned memory on CUDA device {id}, copying from pageable memory: {error}");
        Allocator::default()
    })
}

fn build_session(runtime: &Runtime, onnx: &Path, device: Device, intra_threads: usize) -> anyhow::Result<Session> {
    if let Device::Cuda(id) = device {
        let built_with_cuda = ort::ep::CUDA::is_available().unwrap_or(false);
        if !built_with_cuda {
            bail!(
                "--device {} needs a CUDA build of ONNX Runtime, but {} (version {}) has none; \
                 install it with `.venv/bin/pip install onnxruntime-gpu` and pass --ort-lib or remove the CPU wheel",
                device,
                runtime.library.display(),
                runtime.version
            );
        }
        return session_with(runtime, onnx, intra_threads, Some(id))
            .map_err(|error| anyhow!("cannot use CUDA device {id}: {error}"))
            .with_context(|| format!("the model {} could not be loaded on {}", onnx.display(), device));
    }
    session_with(runtime, onnx, intra_threads, None)
        .map_err(|error| anyhow!("cannot load the model {}: {error}", onnx.display()))
}

/// Kept apart so that ort's builder errors (not `Send`) convert into `ort::Error` here.
fn session_with(runtime: &Runtime, onnx: &Path, intra_threads: usize, cuda: Option<i32>) -> ort::Result<Session> {
    let mut builder = Session::builder(&runtime.environment)?
        .with_optimization_level(GraphOptimizationLevel::Level3)?
        .with_intra_threads(intra_threads)?
        // Spinning threads would steal the cores the decoders need.
        .with_intra_op_spinning(false)?;
    if let Some(id) = cuda {
        let cuda = ort::ep::CUDA::default().with_device_id(id).build().error_on_failure();
        builder = builder.with_execution_providers([cuda])?;
    }
    builder.commit_from_file(onnx)
}

fn tensor_shape(outlet: &Outlet) -> anyhow::Result<&ort::value::Shape> {
    match outlet.dtype() {
        ValueType::Tensor { ty: TensorElementType::Float32, shape, .. } => Ok(shape),
        other => bail!("model tensor `{}` is {other}; imbed needs float32 tensors", outlet.name()),
    }
}

/// Index of the image input.
fn pick_input(inputs: &[Outlet]) -> anyhow::Result<usize> {
    match inputs {
        [_] => Ok(0),
        _ => inputs.iter().position(|input| input.name() == "pixel_values").ok_or_else(|| {
            let names: Vec<_> = inputs.iter().map(Outlet::name).collect();
            anyhow!("the model has inputs {names:?}; imbed needs one image input (or one named pixel_values)")
        }),
    }
}

/// Index of the output holding the embedding.
fn pick_output(outputs: &[Outlet], wanted: Option<&str>) -> anyhow::Result<usize> {
    let names: Vec<_> = outputs.iter().map(Outlet::name).collect();
    let by_name = |name: &str| outputs.iter().position(|output| output.name() == name);
    if let Some(wanted) = wanted {
        return by_name(wanted).ok_or_else(|| anyhow!("the model has no output `{wanted}`; its outputs are {names:?}"));
    }
    if let Some(output) = PREFERRED_OUTPUTS.iter().find_map(|name| by_name(name)) {
        return Ok(output);
    }
    let two_dimensional: Vec<_> =
        (0..outputs.len()).filter(|&i| outputs[i].dtype().tensor_shape().is_some_and(|s| s.len() == 2)).collect();
    match two_dimensional.as_slice() {
        [only] => Ok(*only),
        _ => bail!("cannot tell which output holds the embedding among {names:?}; pass --output NAME"),
    }
}

pub fn l2_normalize(vector: &mut [f32]) {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_to_unit_length() {
        let mut vector = vec![3.0, 4.0];
        l2_normalize(&mut vector);
        assert_eq!(vector, vec![0.6, 0.8]);
        let mut zero = vec![0.0; 3];
        l2_normalize(&mut zero);
        assert_eq!(zero, vec![0.0; 3]);
    }
}
