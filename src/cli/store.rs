//! Where points go: the embedded store, or a Qdrant server.

use std::path::PathBuf;

use clap::Args;

use super::ConnectionArgs;

#[derive(Debug, Args)]
#[command(next_help_heading = "Store")]
pub struct StoreArgs {
    /// Embedded Qdrant Edge store folder.
    #[arg(long, value_name = "DIR", default_value = "imbed-store", env = "IMBED_STORE")]
    pub store: PathBuf,

    /// Collection name inside the store or on the server.
    #[arg(long, value_name = "NAME", default_value = "images", env = "IMBED_COLLECTION")]
    pub collection: String,

    /// Write to (or search) a Qdrant server or cluster at this gRPC URL instead of the
    /// embedded store, such as http://localhost:6334 or https://host:6334.
    #[arg(long, value_name = "URL", env = "IMBED_QDRANT")]
    pub qdrant: Option<String>,

    /// Named vector to write and search, for collections that hold several vectors.
    #[arg(long, value_name = "NAME", env = "IMBED_VECTOR_NAME")]
    pub vector_name: Option<String>,

    #[command(flatten)]
    pub connection: ConnectionArgs,
}
