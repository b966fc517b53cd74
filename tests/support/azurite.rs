//! An Azure Blob Storage emulator for tests: Microsoft's Azurite (`azurite-blob`, from npm,
//! which `scripts/setup --dev` installs into `.venv/node`), on 127.0.0.1 with a free port and
//! a temporary folder; stopped at the end. It checks Shared Key signatures and SAS tokens.
//!
//! Include it with `mod common; #[path = "support/emulator.rs"] mod emulator;
//! #[path = "support/azurite.rs"] mod azurite;`.
//!
//! ```text
//! azurite::shared() -> Option<&'static Azurite>   one server for the test binary, with BUCKETS
//! azurite::start(buckets) -> Option<Azurite>      a server of the test's own (kill, restart)
//! server.url() -> String                          "http://127.0.0.1:PORT" (AZURITE_BLOB_STORAGE_URL)
//! server.endpoint() -> String                     the account's URL, for --azure-endpoint
//! server.addr() -> SocketAddr                     for a TcpProxy in front
//! server.put(container, key, bytes), put_many(container, [(key, bytes)]), delete(container, key)
//! server.sign(container, key) -> String           a GET URL with a service SAS
//! server.kill() / server.restart()                SIGTERM (Azurite writes its metadata), then again
//! ```
//!
//! The binary, in this order: `IMBED_TEST_AZURITE`, `.venv/node/node_modules/.bin/azurite-blob`,
//! `azurite-blob` on `PATH`.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine;
use object_store::azure::{MicrosoftAzure, MicrosoftAzureBuilder};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutPayload};

use crate::{common, emulator};

/// Azurite's one account and its published key.
pub const ACCOUNT: &str = "devstoreaccount1";
pub const KEY: &str = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

pub const BUCKETS: &[&str] = &["photos", "paging", "nightly", "manifests", "shards", "signed"];

const MISSING: &str =
    "no Azurite: run scripts/setup --dev (it installs azurite from npm into .venv/node), or set IMBED_TEST_AZURITE";

pub fn binary() -> Result<PathBuf, String> {
    let local = common::repo().join(".venv/node/node_modules/.bin/azurite-blob");
    emulator::find_binary("IMBED_TEST_AZURITE", &[local], "azurite-blob", MISSING)
}

#[track_caller]
pub fn shared() -> Option<&'static Azurite> {
    static SHARED: OnceLock<Result<Azurite, String>> = OnceLock::new();
    let start = || Azurite::start(&binary()?, BUCKETS);
    emulator::shared(&SHARED, "azurite-keeper", start, Azurite::pid, MISSING)
}

#[track_caller]
pub fn start(buckets: &[&str]) -> Option<Azurite> {
    let binary = common::server_or_skip(binary(), MISSING)?;
    Some(Azurite::start(&binary, buckets).unwrap_or_else(|why| panic!("{why}")))
}

pub struct Azurite {
    binary: PathBuf,
    process: emulator::Running,
    port: u16,
    dir: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
}

impl Azurite {
    fn start(binary: &Path, buckets: &[&str]) -> Result<Self, String> {
        let dir = tempfile::Builder::new().prefix("imbed-azurite-").tempdir().map_err(|e| format!("temp: {e}"))?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        // SIGTERM first: Azurite writes its metadata then, which a restart reads.
        let process = emulator::Running::new(Duration::from_secs(10));
        let mut server = Self { binary: binary.to_path_buf(), process, port: emulator::free_port(), dir, runtime };
        server.launch()?;
        for container in buckets {
            server.create_container(container)?;
        }
        Ok(server)
    }

    fn pid(&self) -> u32 {
        self.process.pid()
    }

    fn launch(&mut self) -> Result<(), String> {
        let mut command = Command::new(&self.binary);
        command
            .args(["--blobHost", "127.0.0.1", "--blobPort", &self.port.to_string(), "--skipApiVersionCheck"])
            .args(["--disableTelemetry", "--silent"])
            .arg("--location")
            .arg(self.dir.path().join("data"))
            .current_dir(self.dir.path());
        let log = self.dir.path().join("azurite.log");
        let addr = self.addr();
        let ready = || std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok();
        self.process.set(emulator::launch(&mut command, &log, "Azurite", ready)?);
        Ok(())
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn endpoint(&self) -> String {
        format!("{}/{ACCOUNT}", self.url())
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn client(&self, container: &str) -> MicrosoftAzure {
        MicrosoftAzureBuilder::new()
            .with_endpoint(self.endpoint())
            .with_allow_http(true)
            .with_account(ACCOUNT)
            .with_access_key(KEY)
            .with_container_name(container)
            .build()
            .expect("an Azure client")
    }

    /// Create Container, signed with Shared Key by hand: object_store makes no containers.
    fn create_container(&self, container: &str) -> Result<(), String> {
        let date = httpdate::fmt_http_date(std::time::SystemTime::now());
        let version = "2021-08-06";
        let resource = format!("/{ACCOUNT}/{ACCOUNT}/{container}\nrestype:container");
        let to_sign = format!("PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n{resource}");
        let key = base64::engine::general_purpose::STANDARD.decode(KEY).expect("the key is base64");
        let signature = base64::engine::general_purpose::STANDARD.encode(hmac_sha256(&key, to_sign.as_bytes()));
        let request = reqwest::Client::new()
            .put(format!("{}/{container}?restype=container", self.endpoint()))
            .header("x-ms-date", date)
            .header("x-ms-version", version)
            .header("content-length", "0")
            .header("authorization", format!("SharedKey {ACCOUNT}:{signature}"))
            .send();
        let response = self.runtime.block_on(request).map_err(|e| format!("create container {container}: {e}"))?;
        match response.status().as_u16() {
            201 | 409 => Ok(()),
            status => Err(format!("create container {container}: HTTP {status}")),
        }
    }

    pub fn put(&self, container: &str, key: &str, bytes: &[u8]) {
        let store = self.client(container);
        let payload = PutPayload::from(bytes.to_vec());
        self.runtime
            .block_on(store.put(&ObjectPath::from(key), payload))
            .unwrap_or_else(|e| panic!("cannot put {container}/{key}: {e}"));
    }

    /// Puts many objects, 16 at a time.
    pub fn put_many(&self, container: &str, objects: Vec<(String, Vec<u8>)>) {
        use futures::StreamExt;
        let store = Arc::new(self.client(container));
        self.runtime.block_on(futures::stream::iter(objects).for_each_concurrent(16, |(key, bytes)| {
            let store = Arc::clone(&store);
            async move {
                let put = store.put(&ObjectPath::from(key.as_str()), PutPayload::from(bytes)).await;
                put.unwrap_or_else(|e| panic!("cannot put {key}: {e}"));
            }
        }));
    }

    pub fn delete(&self, container: &str, key: &str) {
        let store = self.client(container);
        self.runtime.block_on(store.delete(&ObjectPath::from(key))).unwrap_or_else(|e| panic!("delete {key}: {e}"));
    }

    /// A GET URL with a service SAS for the blob, valid for an hour.
    pub fn sign(&self, container: &str, key: &str) -> String {
        emulator::signed_get(&self.runtime, &self.client(container), key)
    }

    pub fn kill(&mut self) {
        self.process.stop();
    }

    pub fn restart(&mut self) {
        self.kill();
        self.launch().unwrap_or_else(|why| panic!("{why}"));
    }
}

/// HMAC-SHA256 through rustls's ring provider (the tests have no HMAC crate of their own).
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    use rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256;
    use rustls::crypto::tls13::OkmBlock;
    let suite = TLS13_AES_128_GCM_SHA256.tls13().expect("a TLS 1.3 suite");
    suite.hkdf_provider.hmac_sign(&OkmBlock::new(key), message).as_ref().to_vec()
}
