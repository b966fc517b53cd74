//! Command-line definitions: the one source for `--help`, completions and man pages.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod dupes;
mod export;
mod model;
mod parse;
mod query;
mod run;
mod server;
mod store;
mod verify;

pub use dupes::DupesArgs;
pub use export::{ExportArgs, ImportArgs};
pub use model::{DecodeArgs, ModelArgs, TextModelArgs};
pub use parse::Weighted;
pub use query::{DoctorArgs, EmbedArgs, PushArgs, SearchArgs, StatsArgs};
pub use run::{ChangeArgs, FetchArgs, IndexArgs, ResumeArgs, RetryFailedArgs, RunArgs, ShardArgs, WalkArgs};
pub use server::{CollectionSetupArgs, ConnectionArgs, WriteArgs};
pub use store::StoreArgs;
pub use verify::VerifyArgs;

#[derive(Debug, Parser)]
#[command(
    name = "imbed",
    version,
    about = "Turn folders and manifests of images into a Qdrant vector index",
    long_about = "Turn folders and manifests of images into a Qdrant vector index.\n\n\
        imbed walks folders or reads manifests, decodes images in parallel, embeds them in \
        batches with an ONNX image encoder (CLIP, SigLIP, ...) and writes one point per image \
        into an embedded Qdrant Edge store, or into a Qdrant server or cluster with --qdrant.",
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Print only errors and the final result.
    #[arg(short, long, global = true, env = "IMBED_QUIET", help_heading = "Output")]
    pub quiet: bool,

    /// Log more detail (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = "Output")]
    pub verbose: u8,

    /// ONNX Runtime shared library (libonnxruntime.so) to load.
    ///
    /// Without it imbed looks at ORT_DYLIB_PATH, the project's .venv, the onnxruntime
    /// package of python3, then the system library paths.
    #[arg(long, global = true, value_name = "FILE", env = "IMBED_ORT_LIB", help_heading = "Model")]
    pub ort_lib: Option<PathBuf>,
}

// Parsed once per process and never moved in a loop: the size of its variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Embed every image of folders and manifests into the store.
    Index(IndexArgs),
    /// Finish an interrupted run; everything else comes from the checkpoint.
    Resume(ResumeArgs),
    /// Process failed items again (all, or those of some error classes).
    RetryFailed(RetryFailedArgs),
    /// Show a checkpoint's progress, errors, rate and ETA; safe beside a running index.
    Stats(StatsArgs),
    /// Embed query images and print the nearest points of the store.
    Search(SearchArgs),
    /// Embed images and print their vectors as JSON lines.
    Embed(EmbedArgs),
    /// Check the ONNX Runtime library, the model and the store.
    Doctor(DoctorArgs),
    /// Copy a collection of the embedded store into a Qdrant server collection.
    Push(PushArgs),
    /// Compare a checkpoint with its index item by item: missing points, points with another
    /// key, points no checkpoint knows; exit 1 when they differ.
    Verify(VerifyArgs),
    /// Write a collection's points to files: JSON lines, one parquet table, or clip-retrieval's
    /// .npy embeddings and parquet metadata.
    Export(ExportArgs),
    /// Read an export (or clip-retrieval's output) into a collection; point IDs are kept.
    Import(ImportArgs),
    /// Find groups of exact, perceptual and semantic near copies in a collection.
    Dupes(DupesArgs),
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every duration and size flag, given random numbers (huge, tiny, negative, not finite,
    /// with suffixes): the parser accepts a value it can represent or refuses it with the
    /// flag's name, and never panics.
    #[test]
    fn numbers_and_durations_parse_or_are_refused_by_name_and_never_panic() {
        let flags = [
            "--fetch-connect-timeout",
            "--fetch-stall-timeout",
            "--fetch-object-timeout",
            "--qdrant-timeout",
            "--qdrant-connect-timeout",
            "--qdrant-max-attempts",
            "--log-interval",
            "--fetch-memory",
            "--decode-memory",
            "--min-free-space",
            "--max-file-size",
            "--max-pixels",
            "--max-attempts",
            "--fetch-concurrency",
            "--batch-size",
            "--max-failures",
            "--max-failure-rate",
        ];
        let fixed = [
            "1e20",
            "1e19",
            "1e308",
            "1e309",
            "inf",
            "-inf",
            "NaN",
            "0",
            "-0",
            "-1",
            "1e-50",
            "0.0001",
            "18446744073709551616",
            "9223372036854775808",
            "31536000",
            "31536001",
            "16777216",
            "16777217",
            "",
            " ",
            "1k",
            "1e3M",
            "0x10",
        ];
        let mut values: Vec<String> = fixed.iter().map(|v| v.to_string()).collect();
        let mut rng = fastrand::Rng::with_seed(21);
        for _ in 0..300 {
            let mantissa = rng.f64() * 10.0;
            let exponent = rng.i32(-60..=320);
            let sign = if rng.bool() { "" } else { "-" };
            let suffix = ["", "", "k", "M", "G", "s"][rng.usize(..6)];
            values.push(format!("{sign}{mantissa}e{exponent}{suffix}"));
            values.push(rng.u64(..).to_string());
        }
        for flag in flags {
            for value in &values {
                let given = format!("{flag}={value}");
                let args = ["imbed", "index", "photos", "--model", "m", given.as_str()];
                let parsed = std::panic::catch_unwind(|| Cli::try_parse_from(args));
                let parsed = parsed.unwrap_or_else(|_| panic!("{flag} {value:?} panicked"));
                match parsed {
                    Ok(cli) => {
                        let Command::Index(index) = cli.command else { panic!("not index") };
                        let fetch = &index.run.fetch;
                        let durations =
                            [fetch.fetch_connect_timeout, fetch.fetch_stall_timeout, fetch.fetch_object_timeout];
                        for duration in durations.into_iter().flatten() {
                            assert!(duration.as_secs() <= parse::MAX_SECONDS, "{flag} {value:?}: {duration:?}");
                            // The sums and products the fetch code forms stay representable.
                            assert!(duration.checked_mul(101).and_then(|d| d.checked_add(duration)).is_some());
                        }
                    }
                    Err(error) => {
                        let text = error.to_string();
                        assert!(text.contains(flag), "{flag} {value:?}: {text}");
                        assert_eq!(error.exit_code(), 2, "{flag} {value:?}");
                    }
                }
            }
        }
    }

    /// Every variable is `IMBED_` and its flag's long name, so that no setting comes from a
    /// name `--help` does not show beside it.
    #[test]
    fn every_variable_is_imbed_and_the_long_name() {
        let mut checked = 0;
        let mut commands = vec![Cli::command()];
        while let Some(command) = commands.pop() {
            for arg in command.get_arguments() {
                let (Some(env), Some(long)) = (arg.get_env(), arg.get_long()) else { continue };
                let expected = format!("IMBED_{}", long.to_uppercase().replace('-', "_"));
                assert_eq!(env.to_str(), Some(expected.as_str()), "--{long} in `{}`", command.get_name());
                checked += 1;
            }
            commands.extend(command.get_subcommands().cloned());
        }
        assert!(checked > 60, "only {checked} variables");
    }

    #[test]
    fn counts_take_suffixes() {
        assert_eq!(parse::count("100M"), Ok(100_000_000));
        assert_eq!(parse::count("2.5k"), Ok(2_500));
        assert_eq!(parse::count("12345"), Ok(12_345));
        assert!(parse::count("0").is_err() && parse::count("M").is_err() && parse::count("-3").is_err());
    }

    #[test]
    fn query_parts_take_an_optional_weight() {
        let part = |weight: f64, value: &str| Ok(Weighted { weight, value: value.to_string() });
        assert_eq!(parse::weighted("2:golden retriever"), part(2.0, "golden retriever"));
        assert_eq!(parse::weighted("0.25: a dog"), part(0.25, " a dog"));
        assert_eq!(parse::weighted("a red car"), part(1.0, "a red car"));
        assert_eq!(parse::weighted("photo: beach"), part(1.0, "photo: beach"));
        assert_eq!(parse::weighted("1:3:4 aspect"), part(1.0, "3:4 aspect"));
        assert_eq!(parse::weighted(""), part(1.0, ""));
        assert!(
            parse::weighted("0:x").is_err() && parse::weighted("-1:x").is_err() && parse::weighted("nan:x").is_err()
        );
    }
}
