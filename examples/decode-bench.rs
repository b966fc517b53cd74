//! Decode plus preprocess, in images per second per core: imbed with its reduced-scale JPEG
//! path, imbed with `--full-decode`, and the `image` crate's full decode alone
//! (`image::open(path)?.to_rgb8()`), over every photo and over those of 8 MP or more.
//!
//!     cargo run --release --example decode-bench -- [--json] [--threads 1] [--rounds 3]
//!         [--cosine MODEL_DIR] DIR...
//!
//! Each image is timed on its own, the three ways one after the other, so a change in the
//! machine's load hits them alike; per core is images over the summed seconds. With
//! `--cosine`, every photo is also embedded both ways by the model and the cosines between
//! the reduced and the full decode are reported. With `--json`, the last stdout line is one
//! JSON object holding every number.
//!
//! A benchmark, not a test: it prints rates and asserts nothing about them.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Parser;
use imbed::decode::{decode_file_for, DecodeOptions, MemoryBudget, Target};
use imbed::embed::{runtime, Device, Encoder, ModelConfig, ResolvedModel};
use imbed::pipeline::{ImageSource, TensorLoader};
use imbed::preprocess::{Background, Layout, Preprocessor, Preset};
use rayon::prelude::*;
use serde_json::json;

/// Photos of at least this many pixels form the large subset.
const LARGE_PIXELS: u64 = 8_000_000;
const EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff", "heic", "avif"];

#[derive(Parser)]
#[command(about = "Decode plus preprocess per core: imbed's reduced-scale JPEG path, its full decode, the image crate")]
struct Args {
    /// Folders of photos (searched recursively) or image files.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Decoding threads; rates are per core either way.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Passes over the photos; each rate is the median of the passes.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Model folder: embed every photo both ways and report the cosines.
    #[arg(long, value_name = "MODEL_DIR")]
    cosine: Option<PathBuf>,
    /// Print one JSON object as the last line of stdout.
    #[arg(long)]
    json: bool,
}

struct Photo {
    path: PathBuf,
    large: bool,
    progressive: bool,
}

/// The ways of decoding, as named in the JSON keys.
const WAYS: [&str; 3] = ["fast", "full", "image_crate"];

/// Seconds per photo for each of the [`WAYS`], in one pass.
struct Pass([Vec<f64>; 3]);

type Chooser = fn(&Photo) -> bool;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let photos = find_photos(&args.paths)?;
    let large = photos.iter().filter(|photo| photo.large).count();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(args.threads.max(1)).build()?;
    let spec = args
        .cosine
        .as_deref()
        .map(|model| {
            let config = ModelConfig {
                path: model.to_path_buf(),
                preset: None,
                output: None,
                normalize: true,
                device: Device::Cpu,
            };
            config.resolve(Background::WHITE)
        })
        .transpose()?;
    let clip = Preprocessor::from_preset(Preset::Clip);
    let preprocessor = spec.as_ref().map_or(&clip, |spec| &spec.preprocessor);
    let fast = loader(preprocessor, Layout::Nchw, false);
    let full = loader(preprocessor, Layout::Nchw, true);
    // Into the page cache, and the decoders' scratch buffers warm.
    for photo in &photos {
        std::fs::read(&photo.path).with_context(|| format!("cannot read {}", photo.path.display()))?;
    }
    pool.install(|| {
        photos.par_iter().take(4 * args.threads).for_each(|photo| drop(fast.load(ImageSource::File(&photo.path))))
    });

    let passes: Vec<Pass> =
        (0..args.rounds.max(1)).map(|_| pool.install(|| time_pass(&photos, &fast, &full))).collect();
    let mut report = json!({
        "images": photos.len(),
        "threads": args.threads,
        "rounds": passes.len(),
        "large_images": large,
        "large_progressive_images": photos.iter().filter(|photo| photo.large && photo.progressive).count(),
    });
    // Every rate, over all photos and over the large ones, the large split by JPEG coding.
    let subsets: [(&str, Chooser); 4] = [
        ("", |_| true),
        ("large_", |photo| photo.large),
        ("large_baseline_", |photo| photo.large && !photo.progressive),
        ("large_progressive_", |photo| photo.large && photo.progressive),
    ];
    for (prefix, chosen) in subsets {
        for (way, name) in WAYS.iter().enumerate() {
            if let Some(rate) = median_rate(&photos, &passes, chosen, way) {
                report[format!("{prefix}{name}_per_core")] = json!(rate);
            }
        }
    }
    print_rates(&report);

    if let (Some(model), Some(spec)) = (&args.cosine, &spec) {
        let cosines = compare_embeddings(model, spec, &photos)?;
        let mean = cosines.iter().map(|(c, _)| c).sum::<f64>() / cosines.len() as f64;
        println!("cosine, reduced vs full decode, {} photos: mean {mean:.5}, min {:.5}", cosines.len(), cosines[0].0);
        for (cosine, path) in cosines.iter().take(5) {
            println!("  {cosine:.5}  {}", path.display());
        }
        report["cosine_mean"] = json!(mean);
        report["cosine_min"] = json!(cosines[0].0);
        report["cosine_below_0_99"] = json!(cosines.iter().filter(|(c, _)| *c < 0.99).count());
        report["cosine_worst"] = json!(cosines[0].1.display().to_string());
    }
    if args.json {
        println!("{report}");
    }
    Ok(())
}

/// Images per second per core over the chosen photos, the median of the passes.
fn median_rate(photos: &[Photo], passes: &[Pass], chosen: Chooser, way: usize) -> Option<f64> {
    let mut rates: Vec<f64> = passes
        .iter()
        .map(|pass| {
            let seconds: Vec<f64> =
                photos.iter().zip(&pass.0[way]).filter(|(photo, _)| chosen(photo)).map(|(_, s)| *s).collect();
            seconds.len() as f64 / seconds.iter().sum::<f64>()
        })
        .filter(|rate| rate.is_finite())
        .collect();
    rates.sort_by(f64::total_cmp);
    rates.get(rates.len() / 2).copied()
}

fn loader(preprocessor: &Preprocessor, layout: Layout, full_decode: bool) -> TensorLoader<'_> {
    let decode = DecodeOptions { full_decode, ..DecodeOptions::default() };
    TensorLoader { preprocessor, layout, decode, budget: MemoryBudget::unlimited() }
}

fn find_photos(paths: &[PathBuf]) -> anyhow::Result<Vec<Photo>> {
    let mut files: Vec<PathBuf> = Vec::new();
    for path in paths {
        for entry in walkdir::WalkDir::new(path).follow_links(true).sort_by_file_name() {
            let entry = entry?;
            let extension = entry.path().extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
            if entry.file_type().is_file() && extension.is_some_and(|e| EXTENSIONS.contains(&e.as_str())) {
                files.push(entry.into_path());
            }
        }
    }
    if files.is_empty() {
        bail!("no images found in {paths:?}");
    }
    files
        .into_iter()
        .map(|path| {
            let read_error = || format!("cannot read {}", path.display());
            // The image crate reads no HEIC or AVIF header: imbed's decoder gives their size.
            let (width, height) = match image::image_dimensions(&path) {
                Ok(size) => size,
                Err(_) => {
                    let image =
                        decode_file_for(&path, Target::Full, &DecodeOptions::default(), &MemoryBudget::unlimited())
                            .map_err(|error| anyhow::anyhow!("{}", error.message))
                            .with_context(read_error)?;
                    (image.width, image.height)
                }
            };
            let format = image::ImageFormat::from_path(&path).ok();
            let progressive = format == Some(image::ImageFormat::Jpeg) && has_progressive_frame(&path)?;
            Ok(Photo { large: u64::from(width) * u64::from(height) >= LARGE_PIXELS, progressive, path })
        })
        .collect()
}

/// Whether a JPEG's frame header says progressive (SOF2, 6, 10 or 14), as far as a bench
/// needs to split photos by coding: the first frame marker in the first 256 kB decides.
fn has_progressive_frame(path: &Path) -> anyhow::Result<bool> {
    let mut head = Vec::new();
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    std::io::Read::read_to_end(&mut std::io::Read::take(file, 256 << 10), &mut head)?;
    let frame = head
        .windows(2)
        .find(|pair| pair[0] == 0xFF && (0xC0..=0xCF).contains(&pair[1]) && ![0xC4, 0xC8, 0xCC].contains(&pair[1]));
    Ok(frame.is_some_and(|pair| [0xC2, 0xC6, 0xCA, 0xCE].contains(&pair[1])))
}

/// Times every photo the three ways, the photos spread over the current pool.
fn time_pass(photos: &[Photo], fast: &TensorLoader<'_>, full: &TensorLoader<'_>) -> Pass {
    let timed = |run: &dyn Fn() -> bool, path: &Path| {
        let started = Instant::now();
        let ok = run();
        assert!(ok, "cannot decode {}", path.display());
        started.elapsed().as_secs_f64()
    };
    // The image crate reads no HEIC or AVIF (its features here): NaN, not a failure.
    let image_crate = |path: &Path| {
        let started = Instant::now();
        let ok = image::open(path).map(|image| image.to_rgb8()).is_ok();
        if ok {
            started.elapsed().as_secs_f64()
        } else {
            f64::NAN
        }
    };
    let seconds: Vec<[f64; 3]> = photos
        .par_iter()
        .map(|photo| {
            let path = photo.path.as_path();
            [
                timed(&|| fast.load(ImageSource::File(path)).is_ok(), path),
                timed(&|| full.load(ImageSource::File(path)).is_ok(), path),
                image_crate(path),
            ]
        })
        .collect();
    Pass(std::array::from_fn(|way| seconds.iter().map(|s| s[way]).collect()))
}

fn print_rates(report: &serde_json::Value) {
    let number = |key: &str| report[key].as_f64().unwrap_or(f64::NAN);
    println!(
        "{} images ({} of 8 MP or more, {} of those progressive JPEGs), {} decoding thread(s), \
         median of {} pass(es); images/s per core",
        report["images"],
        report["large_images"],
        report["large_progressive_images"],
        report["threads"],
        report["rounds"]
    );
    let prefixes = ["", "large_", "large_baseline_", "large_progressive_"];
    println!("{:<34} {:>10} {:>10} {:>10} {:>12}", "", "all", ">= 8 MP", "baseline", "progressive");
    for (name, key) in [
        ("imbed decode+preprocess, reduced", "fast_per_core"),
        ("imbed decode+preprocess, full", "full_per_core"),
        ("image crate full decode", "image_crate_per_core"),
    ] {
        let [all, large, baseline, progressive] = prefixes.map(|prefix| number(&format!("{prefix}{key}")));
        println!("{name:<34} {all:>10.1} {large:>10.1} {baseline:>10.1} {progressive:>12.1}");
    }
    let [all, large, baseline, progressive] = prefixes
        .map(|prefix| number(&format!("{prefix}fast_per_core")) / number(&format!("{prefix}image_crate_per_core")));
    println!("{:<34} {all:>9.2}x {large:>9.2}x {baseline:>9.2}x {progressive:>11.2}x", "reduced / image crate");
}

/// Cosine between the reduced and the full decode's embedding of every photo, lowest first.
fn compare_embeddings(model: &Path, spec: &ResolvedModel, photos: &[Photo]) -> anyhow::Result<Vec<(f64, PathBuf)>> {
    // As imbed finds it: ORT_DYLIB_PATH, else the checkout's .venv.
    let search = runtime::LibrarySearch {
        ort_dylib_path: std::env::var_os("ORT_DYLIB_PATH").filter(|path| !path.is_empty()).map(Into::into),
        project_dirs: std::env::current_dir().into_iter().collect(),
        ..Default::default()
    };
    let runtime = runtime::load(&search)?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut encoder =
        Encoder::load(runtime, spec, cores).with_context(|| format!("cannot load the model in {}", model.display()))?;
    let fast = loader(&spec.preprocessor, encoder.layout(), false);
    let full = loader(&spec.preprocessor, encoder.layout(), true);
    let batch = encoder.static_batch().map_or(16, |rows| (rows / 2).max(1));
    let mut cosines = Vec::with_capacity(photos.len());
    for chunk in photos.chunks(batch) {
        let mut slots = Vec::with_capacity(2 * chunk.len());
        for photo in chunk {
            for loader in [&fast, &full] {
                let (_, slot) =
                    loader.load(ImageSource::File(&photo.path)).map_err(|error| anyhow::anyhow!("{error}"))?;
                slots.push(slot);
            }
        }
        let views: Vec<&[f32]> = slots.iter().map(Vec::as_slice).collect();
        let vectors = encoder.embed(&views)?;
        for (photo, pair) in chunk.iter().zip(vectors.chunks_exact(2)) {
            let cosine: f32 = pair[0].iter().zip(&pair[1]).map(|(a, b)| a * b).sum();
            cosines.push((f64::from(cosine), photo.path.clone()));
        }
    }
    cosines.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(cosines)
}
