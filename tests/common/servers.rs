//! Test servers: started for the whole binary, waited for, or skipped when there is none.

use std::path::Path;

use super::skip;

/// Runs `start` (which spawns a server for the whole test binary) on a thread that never ends,
/// and returns what it gave: a child's parent-death signal follows the thread that spawned it,
/// and test threads end with their test.
pub fn start_on_keeper_thread<T: Send + 'static>(name: &str, start: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            sender.send(start()).expect("send the server");
            loop {
                std::thread::park();
            }
        })
        .expect("keeper thread");
    receiver.recv().expect("the keeper thread answers")
}

/// A test server, or `None` after `skip` when `missing` (the "how to get one" message) says
/// why there is none; any other failure to start fails the test.
#[track_caller]
pub fn server_or_skip<T>(server: Result<T, String>, missing: &str) -> Option<T> {
    match server {
        Ok(server) => Some(server),
        Err(why) if why == missing => {
            skip(&why);
            None
        }
        Err(why) => panic!("{why}"),
    }
}

/// Polls `ready` until it says yes; fails with the end of `log` if the server exits first or
/// `limit` passes.
pub fn wait_for_server(
    what: &str,
    child: &mut std::process::Child,
    log: &Path,
    limit: std::time::Duration,
    mut ready: impl FnMut() -> bool,
) -> Result<(), String> {
    let started = std::time::Instant::now();
    loop {
        if ready() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("{what} exited ({status}) before it was ready:\n{}", log_tail(log)));
        }
        if started.elapsed() > limit {
            return Err(format!("{what} was not ready within {limit:?}:\n{}", log_tail(log)));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The last 40 lines of a server's log, for a failure message.
pub fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
