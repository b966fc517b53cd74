//! The model, and how its input images are read.

use std::path::PathBuf;

use clap::Args;

/// How image files are read: size limits, and the colour under transparent pixels.
#[derive(Debug, Args)]
#[command(next_help_heading = "Model")]
pub struct DecodeArgs {
    /// Images with more pixels fail as too_large, from their header, before decoding (100M = 100 MP).
    #[arg(long, value_name = "N", default_value = "100M", env = "IMBED_MAX_PIXELS", value_parser = super::parse::count)]
    pub max_pixels: u64,

    /// Files larger than this many MiB fail as too_large without being read.
    #[arg(long, value_name = "MIB", default_value_t = crate::decode::DEFAULT_MAX_FILE_SIZE >> 20,
          env = "IMBED_MAX_FILE_SIZE", value_parser = clap::value_parser!(u64).range(1..=super::parse::MAX_MIB))]
    pub max_file_size: u64,

    /// Colour that transparent pixels are composited over: white, black or #RRGGBB.
    #[arg(long, value_name = "COLOUR", default_value = "white", env = "IMBED_BACKGROUND")]
    pub background: crate::preprocess::Background,

    /// Decode JPEGs at full size, not at the reduced DCT scale (1/2, 1/4, 1/8) that still
    /// leaves twice the model's input size; slower, and embeddings differ by about 1e-3 in cosine.
    #[arg(long, env = "IMBED_FULL_DECODE")]
    pub full_decode: bool,

    /// Put the photo's EXIF GPS position in the payload as `gps` (a geo point for
    /// `--filter gps~LAT,LON,KM`); without it, the position is never stored.
    #[arg(long, env = "IMBED_PAYLOAD_GPS")]
    pub payload_gps: bool,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Model")]
pub struct ModelArgs {
    /// Model folder (model.onnx + preprocessor_config.json) or a bare .onnx file.
    #[arg(short, long, value_name = "PATH", env = "IMBED_MODEL")]
    pub model: Option<PathBuf>,

    /// Preprocessing preset for a bare .onnx file: clip, siglip or imagenet; overrides
    /// preprocessor_config.json.
    ///
    /// clip: bicubic resize of the short side to 224, centre crop, CLIP mean/std.
    /// siglip: bicubic resize to 224x224, mean/std 0.5.
    /// imagenet: bilinear resize of the short side to 256, centre crop 224, ImageNet mean/std.
    #[arg(long, value_name = "PRESET", env = "IMBED_PREPROCESS")]
    pub preprocess: Option<crate::preprocess::Preset>,

    /// Model output holding the embedding [default: image_embeds, or the only 2-D output].
    #[arg(long, value_name = "NAME", env = "IMBED_OUTPUT")]
    pub output: Option<String>,

    /// Store vectors as the model gives them, without L2 normalisation.
    #[arg(long, env = "IMBED_NO_NORMALIZE")]
    pub no_normalize: bool,

    /// Execution device: cpu, cuda or cuda:N.
    #[arg(long, value_name = "DEVICE", default_value = "cpu", env = "IMBED_DEVICE")]
    pub device: crate::embed::Device,

    /// ONNX Runtime intra-op threads [default: automatic split with the decoders].
    #[arg(long, value_name = "N", env = "IMBED_INTRA_THREADS")]
    pub intra_threads: Option<usize>,
}

/// The text tower that embeds `--text` queries into the image model's space.
#[derive(Debug, Args)]
#[command(next_help_heading = "Model")]
pub struct TextModelArgs {
    /// Text model folder: model.onnx and tokenizer.json, with tokenizer_config.json,
    /// special_tokens_map.json and config.json where present (as Qdrant/clip-ViT-B-32-text).
    /// `index` records it with the collection, so search finds it there.
    #[arg(long, value_name = "DIR", env = "IMBED_TEXT_MODEL")]
    pub text_model: Option<PathBuf>,

    /// Text model output holding the embedding [default: the one config.json's model_type
    /// names, pooler_output for SigLIP, else text_embeds]; it is L2-normalised.
    #[arg(long, value_name = "NAME", env = "IMBED_TEXT_OUTPUT")]
    pub text_output: Option<String>,
}
