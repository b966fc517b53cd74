//! What the store emulators' launchers share (fake_gcs.rs, azurite.rs): finding the binary, a
//! free loopback port, a child that logs to a file and dies with the test binary, one server
//! per test binary stopped at exit, and a stop that lets the emulator flush.
//!
//! Include it with `#[path = "support/emulator.rs"] mod emulator;` beside `mod common;`.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

use crate::common;

/// The binary named by `variable`, else the first of `candidates` that exists, else `name` on
/// `PATH`; `Err(missing)` when there is none, which `common::server_or_skip` turns into a skip.
pub fn find_binary(variable: &str, candidates: &[PathBuf], name: &str, missing: &str) -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os(variable).filter(|path| !path.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("{variable} is {}, which is no file", path.display()))
        };
    }
    let on_path = std::env::var_os("PATH").map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>());
    candidates
        .iter()
        .cloned()
        .chain(on_path.unwrap_or_default().into_iter().map(|dir| dir.join(name)))
        .find(|path| path.is_file())
        .ok_or_else(|| missing.to_string())
}

/// A file in the repository's `.venv/lib/python3.*/site-packages/`, if one is there.
pub fn in_site_packages(relative: &str) -> Option<PathBuf> {
    let lib = common::repo().join(".venv/lib");
    std::fs::read_dir(lib)
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("site-packages").join(relative))
        .find(|path| path.is_file())
}

/// A port free on 127.0.0.1 now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("address").port()
}

/// Starts `command` with its output appended to `log`, killed if the thread that started it
/// ends (start shared servers on `common::start_on_keeper_thread`).
pub fn spawn(command: &mut Command, log: &Path) -> Result<Child, String> {
    let file = std::fs::OpenOptions::new().create(true).append(true).open(log).map_err(|e| format!("log: {e}"))?;
    command.stdin(Stdio::null()).stdout(file.try_clone().map_err(|e| format!("log: {e}"))?).stderr(file);
    // SAFETY: prctl is async-signal-safe; the closure allocates nothing.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(command, || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    command.spawn().map_err(|e| format!("cannot start {:?}: {e}", command.get_program()))
}

/// Starts `command` (as [`spawn`]) and waits until `ready` says yes, for 90 s at most; a server
/// that does not come up is killed.
pub fn launch(command: &mut Command, log: &Path, what: &str, ready: impl FnMut() -> bool) -> Result<Child, String> {
    let mut child = spawn(command, log)?;
    match common::wait_for_server(what, &mut child, log, Duration::from_secs(90), ready) {
        Ok(()) => Ok(child),
        Err(why) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(why)
        }
    }
}

/// A launched emulator, stopped when dropped: SIGTERM then SIGKILL after `grace` (zero: SIGKILL
/// at once).
pub struct Running {
    child: Option<Child>,
    grace: Duration,
}

impl Running {
    pub fn new(grace: Duration) -> Self {
        Self { child: None, grace }
    }

    pub fn set(&mut self, child: Child) {
        self.stop();
        self.child = Some(child);
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop(&mut child, self.grace);
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One server for every test of a binary, started on a keeper thread, killed at exit; `None`
/// (after `common::skip`) when `start` says `missing`.
#[track_caller]
pub fn shared<T: Send + Sync + 'static>(
    cell: &'static OnceLock<Result<T, String>>,
    keeper: &str,
    start: impl FnOnce() -> Result<T, String> + Send + 'static,
    pid: impl Fn(&T) -> u32,
    missing: &str,
) -> Option<&'static T> {
    let server = cell.get_or_init(|| {
        let server = common::start_on_keeper_thread(keeper, start)?;
        kill_at_exit(pid(&server));
        Ok(server)
    });
    common::server_or_skip(server.as_ref().map_err(String::clone), missing)
}

static AT_EXIT: Mutex<Vec<i32>> = Mutex::new(Vec::new());

fn kill_at_exit(pid: u32) {
    static REGISTERED: Once = Once::new();
    AT_EXIT.lock().unwrap_or_else(|e| e.into_inner()).push(pid as i32);
    // SAFETY: `kill_shared` is an `extern "C" fn()` that touches only a static.
    REGISTERED.call_once(|| unsafe {
        libc::atexit(kill_shared);
    });
}

extern "C" fn kill_shared() {
    let Ok(pids) = AT_EXIT.try_lock() else { return };
    for pid in pids.iter() {
        // SAFETY: kill and waitpid on a server's pid; no memory is touched.
        unsafe {
            libc::kill(*pid, libc::SIGKILL);
            libc::waitpid(*pid, std::ptr::null_mut(), 0);
        }
    }
}

/// A GET URL for `key` that `signer` signs, valid for an hour.
pub fn signed_get(runtime: &tokio::runtime::Runtime, signer: &impl object_store::signer::Signer, key: &str) -> String {
    let path = object_store::path::Path::from(key);
    let url = runtime.block_on(signer.signed_url(reqwest::Method::GET, &path, Duration::from_secs(3600)));
    url.expect("a signed URL").to_string()
}

/// SIGTERM, so that the emulator writes what it holds, then SIGKILL after `grace`.
pub fn stop(child: &mut Child, grace: Duration) {
    if !grace.is_zero() {
        common::signal(child, libc::SIGTERM);
    }
    let started = Instant::now();
    while started.elapsed() < grace {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}
