//! imbed: bulk, offline image-embedding indexing into Qdrant.

pub mod checkpoint;
pub mod cli;
pub mod commands;
pub mod decode;
pub mod docs;
pub mod embed;
pub mod item;
pub mod pipeline;
pub mod plan;
pub mod preprocess;
pub mod progress;
pub mod shard;
pub mod sink;
pub mod source;
