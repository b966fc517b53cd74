//! One image to one tensor slot: decoding limits, the shared memory budget, then the model's
//! preprocessing steps. It uses only `decode`, `preprocess` and the helpers below them, so the
//! fuzz target compiles this very file.

use std::path::Path;

use crate::decode::{decode_bytes_for, decode_file_for, DecodeError, DecodeOptions, DecodedImage, MemoryBudget};
use crate::item::ErrorClass;
use crate::preprocess::{Layout, Preprocessor};
use crate::util::catch_panic;

/// Where an image's bytes are: a file to stream, or bytes already in memory.
#[derive(Debug, Clone, Copy)]
pub enum ImageSource<'a> {
    File(&'a Path),
    Bytes(&'a [u8]),
}

/// How an image becomes a tensor slot.
pub struct TensorLoader<'a> {
    pub preprocessor: &'a Preprocessor,
    pub layout: Layout,
    pub decode: DecodeOptions,
    pub budget: MemoryBudget,
}

impl TensorLoader<'_> {
    /// Floats in one image's tensor slot.
    pub fn slot_len(&self) -> usize {
        self.preprocessor.slot_len()
    }

    /// Decodes one image and preprocesses it into a new tensor slot.
    pub fn load(&self, source: ImageSource<'_>) -> Result<(DecodedImage, Vec<f32>), DecodeError> {
        let mut slot = vec![0.0; self.slot_len()];
        self.load_into(source, &mut slot).map(|image| (image, slot))
    }

    /// Decodes one image and preprocesses it into `slot`, every value of which it writes. A
    /// decoder that panics fails this image alone instead of ending the run (and every resume).
    pub fn load_into(&self, source: ImageSource<'_>, slot: &mut [f32]) -> Result<DecodedImage, DecodeError> {
        guarded(|| self.load_unguarded(source, slot))
    }

    /// Decodes one image as [`Self::load_into`] does, without preprocessing it: for a payload
    /// alone (`--refresh-payload`).
    pub fn decode(&self, source: ImageSource<'_>) -> Result<DecodedImage, DecodeError> {
        guarded(|| self.decode_unguarded(source))
    }

    /// [`Self::load_into`] without catching panics, for the fuzz target, which must see them.
    pub fn load_unguarded(&self, source: ImageSource<'_>, slot: &mut [f32]) -> Result<DecodedImage, DecodeError> {
        let image = self.decode_unguarded(source)?;
        self.preprocessor.apply(&image, self.layout, slot)?;
        Ok(image)
    }

    fn decode_unguarded(&self, source: ImageSource<'_>) -> Result<DecodedImage, DecodeError> {
        let target = self.preprocessor.decode_target();
        match source {
            ImageSource::File(path) => decode_file_for(path, target, &self.decode, &self.budget),
            ImageSource::Bytes(bytes) => decode_bytes_for(bytes, target, &self.decode, &self.budget),
        }
    }
}

/// Runs a decode; one that panics fails its image alone.
fn guarded<T>(decode: impl FnOnce() -> Result<T, DecodeError>) -> Result<T, DecodeError> {
    catch_panic("no reason given", decode).unwrap_or_else(|reason| {
        Err(DecodeError::new(ErrorClass::Corrupt, format!("the decoder crashed on this file: {reason}")))
    })
}
