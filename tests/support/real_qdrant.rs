//! A real Qdrant server for tests: found, started on loopback, waited on, stopped.
//!
//! Include it with `mod common; #[path = "support/real_qdrant.rs"] mod real_qdrant;` (it uses
//! `common::skip`).
//!
//! ```text
//! real_qdrant::shared() -> Option<&'static RealQdrant>   one server for the whole test binary;
//!                                                       None (after common::skip) without a binary
//! real_qdrant::start(api_key) -> Option<RealQdrant>     a server of the test's own (kill, restart, key)
//! server.url() -> String                                gRPC, what imbed's --qdrant takes
//! server.grpc_addr() -> SocketAddr
//! server.kill()                                         SIGKILL: no shutdown, the WAL is left as is
//! server.stop()                                         SIGTERM, and wait for it to exit
//! server.restart()                                      again on the same ports and storage, ready
//! server.get / post / put / delete(path, body) -> (u16, Value)   REST, with the API key
//! server.points(collection) -> Vec<Value>              every point, with payload and vector (scroll)
//! server.collection(name) -> Value                     `result` of GET /collections/NAME
//! drop(server)                                          SIGTERM, wait, remove its storage
//! ```
//!
//! The binary, in this order: `IMBED_TEST_QDRANT` (a path, or `none` to look nowhere); `qdrant` on `PATH`; the archive in
//! `../shared/qdrant/` beside the repository, unpacked once (under a file lock, so parallel test
//! binaries unpack it once) into the cargo target folder.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common;

/// How to get a server, for the line a skipped test prints.
const HOW_TO_GET_ONE: &str = "no Qdrant server binary: set IMBED_TEST_QDRANT to a `qdrant` binary, put one on PATH, \
     or keep the repository beside ../shared/qdrant/ (qdrant-v*-x86_64-linux-gnu.tar.xz, see its README)";

/// Where the binary is, found once per test binary.
pub fn binary() -> Result<PathBuf, String> {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    FOUND.get_or_init(find_binary).clone()
}

fn find_binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("IMBED_TEST_QDRANT").filter(|path| !path.is_empty()) {
        // `none`: run as a machine without a server would (the skip path's own test).
        if path == "none" {
            return Err(HOW_TO_GET_ONE.to_string());
        }
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("IMBED_TEST_QDRANT is {}, which is no file", path.display()))
        };
    }
    if let Some(path) = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("qdrant"))
        .find(|path| path.is_file())
    {
        return Ok(path);
    }
    let shared = common::repo().join("../shared/qdrant");
    let archive = std::fs::read_dir(&shared).ok().and_then(|entries| {
        entries.filter_map(Result::ok).map(|entry| entry.path()).find(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with("qdrant-v") && name.ends_with("-x86_64-linux-gnu.tar.xz")
        })
    });
    match archive {
        Some(archive) if cfg!(all(target_os = "linux", target_arch = "x86_64")) => unpack(&archive),
        _ => Err(HOW_TO_GET_ONE.to_string()),
    }
}

/// Unpacks `archive` once into `<target>/test-qdrant/<archive name>/qdrant`.
fn unpack(archive: &Path) -> Result<PathBuf, String> {
    let name = archive.file_name().unwrap_or_default().to_string_lossy().trim_end_matches(".tar.xz").to_string();
    // CARGO_BIN_EXE_imbed is <target>/<profile>/imbed.
    let profile = Path::new(env!("CARGO_BIN_EXE_imbed")).parent().expect("the profile folder");
    let cache = profile.parent().unwrap_or(profile).join("test-qdrant");
    let folder = cache.join(&name);
    let binary = folder.join("qdrant");
    if binary.is_file() {
        return Ok(binary);
    }
    std::fs::create_dir_all(&cache).map_err(|e| format!("cannot create {}: {e}", cache.display()))?;
    let lock = std::fs::File::create(cache.join(".lock")).map_err(|e| format!("lock file: {e}"))?;
    lock.lock().map_err(|e| format!("cannot lock {}: {e}", cache.display()))?;
    if binary.is_file() {
        return Ok(binary);
    }
    let scratch = cache.join(format!(".{name}.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).map_err(|e| format!("cannot create {}: {e}", scratch.display()))?;
    let output = Command::new("tar")
        .arg("-xJf")
        .arg(archive)
        .arg("-C")
        .arg(&scratch)
        .output()
        .map_err(|e| format!("cannot run tar to unpack {}: {e}", archive.display()))?;
    if !output.status.success() || !scratch.join("qdrant").is_file() {
        let _ = std::fs::remove_dir_all(&scratch);
        return Err(format!(
            "cannot unpack {} (needs tar and xz): {}",
            archive.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    // A whole folder or nothing: a test binary killed half-way leaves no half a binary.
    std::fs::rename(&scratch, &folder).map_err(|e| format!("cannot move {}: {e}", scratch.display()))?;
    eprintln!("unpacked {} into {}", archive.display(), folder.display());
    Ok(binary)
}

/// One server for every test of this binary, each with collections of its own; `None`, after
/// `common::skip`, when there is no binary. It is stopped when the test binary exits.
#[track_caller]
pub fn shared() -> Option<&'static RealQdrant> {
    static SHARED: OnceLock<Result<RealQdrant, String>> = OnceLock::new();
    let server = SHARED.get_or_init(|| {
        let binary = binary()?;
        let server = common::start_on_keeper_thread("qdrant-keeper", move || RealQdrant::start(&binary, None))?;
        let pid = server.child.as_ref().expect("running").id() as i32;
        let _ = SHARED_PID_AND_DIR.set((pid, server.dir.path().to_path_buf()));
        // SAFETY: `stop_shared` is an `extern "C" fn()` that touches only a static.
        unsafe { libc::atexit(stop_shared) };
        Ok(server)
    });
    common::server_or_skip(server.as_ref().map_err(String::clone), HOW_TO_GET_ONE)
}

static SHARED_PID_AND_DIR: OnceLock<(i32, PathBuf)> = OnceLock::new();

extern "C" fn stop_shared() {
    if let Some((pid, dir)) = SHARED_PID_AND_DIR.get() {
        terminate(*pid);
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A server of the calling test's own, with `api_key` if given; `None` (after `common::skip`)
/// without a binary.
#[track_caller]
pub fn start(api_key: Option<&str>) -> Option<RealQdrant> {
    let binary = common::server_or_skip(binary(), HOW_TO_GET_ONE)?;
    Some(RealQdrant::start(&binary, api_key).unwrap_or_else(|why| panic!("{why}")))
}

pub struct RealQdrant {
    binary: PathBuf,
    child: Option<Child>,
    http_port: u16,
    grpc_port: u16,
    api_key: Option<String>,
    /// Working directory, storage, snapshots and log.
    dir: tempfile::TempDir,
}

impl RealQdrant {
    fn start(binary: &Path, api_key: Option<&str>) -> Result<Self, String> {
        let dir =
            tempfile::Builder::new().prefix("imbed-qdrant-").tempdir().map_err(|e| format!("temporary folder: {e}"))?;
        let (http_port, grpc_port) = free_ports();
        let mut server = Self {
            binary: binary.to_path_buf(),
            child: None,
            http_port,
            grpc_port,
            api_key: api_key.map(str::to_string),
            dir,
        };
        server.launch()?;
        Ok(server)
    }

    fn launch(&mut self) -> Result<(), String> {
        let dir = self.dir.path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("qdrant.log"))
            .map_err(|e| format!("log file: {e}"))?;
        let mut command = Command::new(&self.binary);
        command
            .arg("--disable-telemetry")
            .current_dir(dir)
            .env("QDRANT__SERVICE__HOST", "127.0.0.1")
            .env("QDRANT__SERVICE__HTTP_PORT", self.http_port.to_string())
            .env("QDRANT__SERVICE__GRPC_PORT", self.grpc_port.to_string())
            .env("QDRANT__STORAGE__STORAGE_PATH", dir.join("storage"))
            .env("QDRANT__STORAGE__SNAPSHOTS_PATH", dir.join("snapshots"))
            .env("QDRANT__TELEMETRY_DISABLED", "true")
            .env("QDRANT__LOG_LEVEL", "WARN")
            .env_remove("QDRANT__SERVICE__API_KEY")
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| format!("log file: {e}"))?)
            .stderr(log);
        if let Some(key) = &self.api_key {
            command.env("QDRANT__SERVICE__API_KEY", key);
        }
        // SAFETY: prctl is async-signal-safe; the closure allocates nothing.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = command.spawn().map_err(|e| format!("cannot start {}: {e}", self.binary.display()))?;
        self.child = Some(child);
        self.wait_ready()
    }

    /// Until `GET /readyz` answers 200, or the server has exited, or 60 s passed.
    fn wait_ready(&mut self) -> Result<(), String> {
        let mut child = self.child.take().expect("a running server");
        let log = self.dir.path().join("qdrant.log");
        let ready = || matches!(self.request_text("GET", "/readyz", None), Ok((200, _)));
        let outcome = common::wait_for_server("Qdrant", &mut child, &log, Duration::from_secs(60), ready);
        self.child = Some(child);
        outcome
    }

    /// The end of the server's log, for a failure message.
    pub fn log_tail(&self) -> String {
        common::log_tail(&self.dir.path().join("qdrant.log"))
    }

    /// The gRPC endpoint, for `--qdrant`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc_port)
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.grpc_port))
    }

    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// SIGKILL: the server dies with whatever its WAL holds.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, and wait until it exits (SIGKILL after 20 s).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(child.id() as i32);
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same ports and storage, and waits until it is ready.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "restart a server that is not stopped");
        self.launch().unwrap_or_else(|why| panic!("{why}"));
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        self.request("GET", path, None)
    }

    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.request("POST", path, Some(body))
    }

    pub fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        self.request("PUT", path, Some(body))
    }

    pub fn delete(&self, path: &str) -> (u16, Value) {
        self.request("DELETE", path, None)
    }

    /// A REST call with a JSON reply; panics when the server cannot be reached.
    pub fn request(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let (status, text) = self
            .request_text(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path} on Qdrant: {e}\n{}", self.log_tail()));
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    fn request_text(&self, method: &str, path: &str, body: Option<&Value>) -> std::io::Result<(u16, String)> {
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n",
            self.http_port,
            body.len()
        );
        if let Some(key) = &self.api_key {
            head += &format!("api-key: {key}\r\n");
        }
        head += "\r\n";
        http(SocketAddr::from(([127, 0, 0, 1], self.http_port)), &(head + &body))
    }

    /// `result` of `GET /collections/NAME`.
    pub fn collection(&self, name: &str) -> Value {
        let (status, reply) = self.get(&format!("/collections/{name}"));
        assert_eq!(status, 200, "GET /collections/{name}: {reply}");
        reply["result"].clone()
    }

    pub fn collection_exists(&self, name: &str) -> bool {
        self.get(&format!("/collections/{name}")).0 == 200
    }

    /// Every point of `collection`, with payload and vector, in ID order; empty when the
    /// collection does not exist.
    pub fn points(&self, collection: &str) -> Vec<Value> {
        let mut points = Vec::new();
        let mut offset = Value::Null;
        loop {
            let body = json!({"limit": 256, "with_payload": true, "with_vector": true, "offset": offset});
            let (status, reply) = self.post(&format!("/collections/{collection}/points/scroll"), &body);
            if status == 404 {
                return points;
            }
            assert_eq!(status, 200, "scroll {collection}: {reply}");
            points.extend(reply["result"]["points"].as_array().cloned().unwrap_or_default());
            offset = reply["result"]["next_page_offset"].clone();
            if offset.is_null() {
                return points;
            }
        }
    }

    /// Exact number of points in `collection` (0 when it does not exist).
    pub fn count(&self, collection: &str) -> u64 {
        let (status, reply) = self.post(&format!("/collections/{collection}/points/count"), &json!({"exact": true}));
        if status != 200 {
            return 0;
        }
        reply["result"]["count"].as_u64().unwrap_or(0)
    }
}

impl Drop for RealQdrant {
    fn drop(&mut self) {
        self.stop();
    }
}

/// SIGTERM to `pid`, then wait for it: SIGKILL after 20 s.
fn terminate(pid: i32) {
    // SAFETY: kill and waitpid have no memory preconditions; the pid is our child's.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut status = 0;
        while libc::waitpid(pid, &mut status, libc::WNOHANG) == 0 {
            if Instant::now() > deadline {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Two loopback ports that were free a moment ago.
fn free_ports() -> (u16, u16) {
    let a = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let b = TcpListener::bind("127.0.0.1:0").expect("a free port");
    (a.local_addr().expect("addr").port(), b.local_addr().expect("addr").port())
}

/// One HTTP/1.1 exchange over a fresh connection: the status and the body (de-chunked).
pub fn http(addr: SocketAddr, request: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.write_all(request.as_bytes())?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply)?;
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let split = reply.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| bad("no end of headers"))?;
    let head = String::from_utf8_lossy(&reply[..split]).to_string();
    let mut body = reply[split + 4..].to_vec();
    let status = head.split_whitespace().nth(1).and_then(|code| code.parse().ok()).ok_or_else(|| bad("no status"))?;
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        let mut plain = Vec::new();
        let mut rest = body.as_slice();
        while let Some(end) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..end]).trim(), 16)
                .map_err(|_| bad("bad chunk size"))?;
            if size == 0 {
                break;
            }
            let start = end + 2;
            plain.extend_from_slice(rest.get(start..start + size).ok_or_else(|| bad("short chunk"))?);
            rest = rest.get(start + size + 2..).unwrap_or_default();
        }
        body = plain;
    }
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}
