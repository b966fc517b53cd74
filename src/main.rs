use std::process::ExitCode;

use clap::Parser;
use imbed::cli::Cli;
use imbed::commands::settings::{Environment, RENAMED_VARIABLES};
use imbed::commands::{self, ExitStatus};
use imbed::locator::redacted;

fn main() -> ExitCode {
    let renamed = carry_renamed_variables();
    let cli = Cli::parse();
    #[cfg(target_os = "linux")]
    hide_api_key_from_process_title();
    let env = Environment::of_process();
    init_logging(cli.global.verbose, env.stderr_colour());
    for (old, new) in renamed {
        tracing::warn!("{old} is now called {new}; the old name is read until the next release");
    }
    let code = match commands::dispatch(cli, &env) {
        Ok(status) => ExitCode::from(status.code()),
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            // A library's error may quote a signed URL: none leaves with its query or userinfo.
            eprintln!("error: {}", redacted(&error.to_string()));
            // Many messages already quote their cause; print only what adds something.
            let mut said = error.to_string();
            for cause in error.chain().skip(1).map(|cause| cause.to_string()) {
                if !said.contains(&cause) {
                    eprintln!("  Caused by: {}", redacted(&cause));
                    said.push_str(&cause);
                }
            }
            ExitCode::from(ExitStatus::Error.code())
        }
    };
    record_peak_memory();
    code
}

/// A variable set under its old name (and not its new one) is copied to its new name, so that
/// clap reads it where `--help` says. Called first, while the process has one thread.
fn carry_renamed_variables() -> Vec<(&'static str, &'static str)> {
    let mut carried = Vec::new();
    for &(old, new) in RENAMED_VARIABLES {
        if let (Some(value), None) = (std::env::var_os(old), std::env::var_os(new)) {
            std::env::set_var(new, value);
            carried.push((old, new));
        }
    }
    carried
}

/// `--qdrant-api-key KEY` (or its old spelling `--api-key`) would stay in the process title, which `ps` shows every user of the machine
/// (/proc/PID/cmdline is world-readable, /proc/PID/environ is not). So imbed runs itself again
/// at once, same PID, with the key moved into IMBED_QDRANT_API_KEY, which clap reads the same
/// way. Called after parsing, so a bad command line still gets clap's error.
#[cfg(target_os = "linux")]
fn hide_api_key_from_process_title() {
    use std::os::unix::process::CommandExt;
    let mut args = std::env::args_os();
    let Some(program) = args.next() else { return };
    let mut kept = Vec::new();
    let mut key = None;
    while let Some(arg) = args.next() {
        if arg == "--" {
            kept.push(arg);
            kept.extend(args.by_ref());
            break;
        }
        if arg == "--qdrant-api-key" || arg == "--api-key" {
            key = args.next();
        } else if let Some(value) = arg
            .to_str()
            .and_then(|arg| arg.strip_prefix("--qdrant-api-key=").or_else(|| arg.strip_prefix("--api-key=")))
        {
            key = Some(value.into());
        } else {
            kept.push(arg);
        }
    }
    let (Some(key), Ok(binary)) = (key, std::env::current_exe()) else { return };
    // exec returns only when it failed; then the run goes on with the key where it was.
    let _ = std::process::Command::new(binary).arg0(program).args(kept).env("IMBED_QDRANT_API_KEY", key).exec();
}

/// A debugging aid for the memory tests: with `IMBED_DEBUG_PEAK_RSS=FILE`, this process's peak
/// resident memory (VmHWM, KiB) is written to FILE at exit. The `ru_maxrss` that wait4 reports
/// also counts the memory the parent had when it spawned this process.
fn record_peak_memory() {
    let Some(file) = std::env::var_os("IMBED_DEBUG_PEAK_RSS") else {
        return;
    };
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(peak) = status.lines().find_map(|line| line.strip_prefix("VmHWM:")) {
        let _ = std::fs::write(file, peak.trim().trim_end_matches("kB").trim());
    }
}

/// Warnings and logs go to stderr, with colour only where [`Environment::stderr_colour`] allows
/// it: never escape codes in a cron log.
fn init_logging(verbose: u8, colour: bool) {
    // qdrant-edge 0.7.0 warns about process-wide flags that only its server initialises.
    let default = match verbose {
        0 => "warn,qdrant_edge=error",
        1 => "info,qdrant_edge=error",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(|| RedactedStderr).with_ansi(colour).init();
}

/// Log lines on stderr with every URL cut at its query string and stripped of userinfo: at
/// `-vv` the HTTP and object-store libraries log URLs (a redirect, a retry) that imbed does
/// not build. tracing-subscriber writes each event with one `write_all`.
struct RedactedStderr;

impl std::io::Write for RedactedStderr {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(bytes);
        std::io::stderr().lock().write_all(redacted(&text).as_bytes())?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
