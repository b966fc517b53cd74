//! The image encoder: an ONNX Runtime session owned by one thread, fed whole batches.

pub mod runtime;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{anyhow, bail, Context};
use ort::ep::ExecutionProvider;
use ort::memory::{AllocationDevice, Allocator, AllocatorType, MemoryInfo, MemoryType};
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::{Outlet, Tensor, TensorElementType, ValueType};

use crate::cli::PreprocessPreset;
use crate::decode::{Background, DecodeOptions};
use crate::preprocess::{Layout, Preprocessor};
pub use runtime::Runtime;

/// Output names tried, in order, when `--output` is not given.
const PREFERRED_OUTPUTS: &[&str] = &["image_embeds", "embeddings", "pooler_output"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    Cpu,
    Cuda(i32),
}

impl FromStr for Device {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> anyhow::Result<Self> {
        match text.to_ascii_lowercase().as_str() {
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda(0)),
            other => match other.strip_prefix("cuda:").map(str::parse::<i32>) {
                Some(Ok(id)) if id >= 0 => Ok(Self::Cuda(id)),
                _ => bail!("invalid --device `{text}`: expected cpu, cuda or cuda:N"),
            },
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => f.write_str("cpu"),
            Self::Cuda(id) => write!(f, "cuda:{id}"),
        }
    }
}

/// A model on disk: the ONNX file and how to preprocess its input.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    pub onnx: PathBuf,
    pub preprocessor: Preprocessor,
    /// The preset used instead of a `preprocessor_config.json`, if any.
    pub preset: Option<PreprocessPreset>,
}

impl ModelSpec {
    /// A folder in the Hugging Face layout, or a bare `.onnx` file with a preset.
    pub fn resolve(path: &Path, preset: Option<PreprocessPreset>) -> anyhow::Result<Self> {
        let metadata = std::fs::metadata(path).with_context(|| format!("cannot read model {}", path.display()))?;
        let (onnx, config) = if metadata.is_dir() {
            let onnx = ["model.onnx", "onnx/model.onnx", "vision_model.onnx"]
                .iter()
                .map(|name| path.join(name))
                .find(|candidate| candidate.is_file())
                .ok_or_else(|| anyhow!("no model.onnx in the model folder {}", path.display()))?;
            (onnx, Some(path.join("preprocessor_config.json")).filter(|config| config.is_file()))
        } else {
            (path.to_path_buf(), None)
        };
        let preprocessor = match (preset, &config) {
            (Some(preset), _) => Preprocessor::from_preset(preset),
            (None, Some(config)) => Preprocessor::from_file(config)?,
            (None, None) => bail!(
                "{} has no preprocessor_config.json beside it; pass --preprocess clip|siglip|imagenet",
                path.display()
            ),
        };
        Ok(Self { onnx, preprocessor, preset })
    }

    /// Hash of `model.onnx`, to notice a model that changed under a checkpoint.
    pub fn model_fingerprint(&self) -> anyhow::Result<String> {
        let hash =
            crate::item::content_hash(&self.onnx).with_context(|| format!("cannot read {}", self.onnx.display()))?;
        Ok(format!("xxh3:{hash:032x}"))
    }

    /// Hash of the resolved preprocessing steps (not of the file's formatting), of the colour
    /// under transparent pixels, and of reduced-scale JPEG decoding. White and full decoding
    /// add nothing, so checkpoints from before those options existed keep their fingerprint,
    /// and a run does not mix vectors of both decodings unknowingly.
    pub fn preprocess_fingerprint(&self, decode: &DecodeOptions) -> String {
        let mut steps = format!("{:?}", self.preprocessor);
        if decode.background != Background::WHITE {
            steps += &format!(" over {}", decode.background);
        }
        if !decode.full_decode {
            steps += " with reduced-scale JPEG decoding";
        }
        format!("xxh3:{:032x}", xxhash_rust::xxh3::xxh3_128(steps.as_bytes()))
    }
}

/// How the encoder is set up.
#[derive(Debug, Clone)]
pub struct EncoderSettings {
    pub device: Device,
    pub intra_threads: usize,
    pub output: Option<String>,
    pub normalize: bool,
}

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
    pub fn load(runtime: &Runtime, spec: &ModelSpec, settings: &EncoderSettings) -> anyhow::Result<Self> {
        let session = build_session(runtime, &spec.onnx, settings)?;
        let input = &session.inputs()[pick_input(session.inputs())?];
        let output = &session.outputs()[pick_output(session.outputs(), settings.output.as_deref())?];
        let input_shape = tensor_shape(input)?.to_vec();
        if input_shape.len() != 4 {
            bail!("model input `{}` has shape {input_shape:?}; expected [batch, 3, height, width]", input.name());
        }
        let layout = if input_shape[3] == 3 && input_shape[1] != 3 { Layout::Nhwc } else { Layout::Nchw };
        let (height, width) = spec.preprocessor.output_size();
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
        let staging = staging_allocator(&session, settings.device);
        let mut encoder = Self {
            input: input.name().to_string(),
            output: output.name().to_string(),
            static_batch: usize::try_from(input_shape[0]).ok().filter(|&n| n > 0),
            dimension: usize::try_from(output_shape[1]).unwrap_or(0),
            session,
            layout,
            image_size: (height as usize, width as usize),
            normalize: settings.normalize,
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
        let mut rows_of_slots = host_values(batch).chunks_exact_mut(slot_len);
        for (row, slot) in rows_of_slots.by_ref().zip(slots) {
            row.copy_from_slice(slot);
        }
        // Padding rows of a fixed-size batch are zero; their outputs are dropped.
        rows_of_slots.for_each(|row| row.fill(0.0));
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

/// The values of a tensor from the staging allocator, which is host memory: the CPU's, or
/// CUDA's pinned memory. ort's `extract_tensor_mut` would refuse the latter: built for API 20,
/// it takes ONNX Runtime 1.23+'s word that pinned memory is on the GPU.
fn host_values(tensor: &mut Tensor<f32>) -> &mut [f32] {
    let len = tensor.shape().num_elements();
    let data = tensor.data_ptr_mut().cast::<f32>();
    if len == 0 || data.is_null() {
        return &mut [];
    }
    // SAFETY: the tensor owns `len` f32 values in host memory, and `&mut` makes this the only access.
    unsafe { std::slice::from_raw_parts_mut(data, len) }
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

fn build_session(runtime: &Runtime, onnx: &Path, settings: &EncoderSettings) -> anyhow::Result<Session> {
    if let Device::Cuda(id) = settings.device {
        let built_with_cuda = ort::ep::CUDA::is_available().unwrap_or(false);
        if !built_with_cuda {
            bail!(
                "--device {} needs a CUDA build of ONNX Runtime, but {} (version {}) has none; \
                 install it with `.venv/bin/pip install onnxruntime-gpu` and pass --ort-lib or remove the CPU wheel",
                settings.device,
                runtime.library.display(),
                runtime.version
            );
        }
        return session_with(runtime, onnx, settings, Some(id))
            .map_err(|error| anyhow!("cannot use CUDA device {id}: {error}"))
            .with_context(|| format!("the model {} could not be loaded on {}", onnx.display(), settings.device));
    }
    session_with(runtime, onnx, settings, None)
        .map_err(|error| anyhow!("cannot load the model {}: {error}", onnx.display()))
}

/// Kept apart so that ort's builder errors (not `Send`) convert into `ort::Error` here.
fn session_with(runtime: &Runtime, onnx: &Path, settings: &EncoderSettings, cuda: Option<i32>) -> ort::Result<Session> {
    let mut builder = Session::builder(&runtime.environment)?
        .with_optimization_level(GraphOptimizationLevel::Level3)?
        .with_intra_threads(settings.intra_threads)?
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
    fn parses_devices() {
        assert_eq!("cpu".parse::<Device>().unwrap(), Device::Cpu);
        assert_eq!("cuda".parse::<Device>().unwrap(), Device::Cuda(0));
        assert_eq!("CUDA:1".parse::<Device>().unwrap(), Device::Cuda(1));
        assert!("cuda:x".parse::<Device>().is_err());
        assert!("tpu".parse::<Device>().is_err());
    }

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
