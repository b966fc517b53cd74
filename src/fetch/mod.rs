//! The bytes of remote items: objects in S3, GCS and Azure through `object_store`, and plain
//! or presigned URLs through `reqwest`, on one tokio runtime of their own.
//!
//! Every request has three separate time-outs: connecting, a stall (no byte for a while) and
//! a ceiling on the whole object. No total time-out meant for stalls kills a slow, steady
//! download. Transient failures (5xx, 429, resets, stalls, time-outs) are tried again with
//! exponential backoff and jitter, up to the run's attempts; answers that another try cannot
//! change (400, 401, 403, 404, 410) are final at once.

mod budget;
mod error;
mod http;
mod options;
mod refusals;
mod stores;

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use bytes::Bytes;

pub use budget::{ByteBudget, BytesHeld};
pub use error::FetchError;
pub(crate) use options::AZURITE_ACCOUNT;
pub use options::{Endpoints, RemoteOptions};

use crate::item::ErrorClass;
use crate::locator::{Location, ObjectFacts, Store};

/// Limits of the fetch stage.
#[derive(Debug, Clone)]
pub struct FetchSettings {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Bytes of downloaded bodies held at once, until decoded.
    pub memory: u64,
    pub connect_timeout: Duration,
    /// No byte for this long fails the try.
    pub stall_timeout: Duration,
    /// The ceiling on one object, from the request to its last byte.
    pub object_timeout: Duration,
    /// Tries of one object, the first included.
    pub max_attempts: u32,
    /// Objects larger than this fail as too_large, whatever their headers claim.
    pub max_size: u64,
    /// Tries in a row to one host that time out or cannot connect before its remaining
    /// items fail at once as host_down.
    pub host_failure_limit: u32,
}

impl Default for FetchSettings {
    fn default() -> Self {
        Self {
            concurrency: 32,
            memory: 512 << 20,
            connect_timeout: Duration::from_secs(10),
            stall_timeout: Duration::from_secs(30),
            object_timeout: Duration::from_secs(300),
            max_attempts: 3,
            max_size: crate::decode::DEFAULT_MAX_FILE_SIZE,
            host_failure_limit: 5,
        }
    }
}

/// The longest wait the fetch code sets: tokio and reqwest add a duration to `Instant::now()`,
/// which panics past what an `Instant` can hold, and no wait needs more than this.
pub(crate) const LONGEST_WAIT: Duration = Duration::from_secs(365 * 24 * 3600);

impl FetchSettings {
    /// These settings with every duration at most [`LONGEST_WAIT`], so that no sum of them
    /// overflows an `Instant`, whatever they were given.
    fn bounded(self) -> Self {
        Self {
            connect_timeout: self.connect_timeout.min(LONGEST_WAIT),
            stall_timeout: self.stall_timeout.min(LONGEST_WAIT),
            object_timeout: self.object_timeout.min(LONGEST_WAIT),
            ..self
        }
    }

    /// A host's answer to a request may take this long: the connection, then its headers.
    pub(crate) fn answer_timeout(&self) -> Duration {
        self.connect_timeout.saturating_add(self.stall_timeout).min(LONGEST_WAIT)
    }
}

/// The bytes of one object, held against the byte budget until dropped.
#[derive(Debug)]
pub struct Download {
    pub bytes: Bytes,
    pub facts: ObjectFacts,
    pub held: BytesHeld,
}

/// One object of a listing.
#[derive(Debug, Clone)]
pub struct Listed {
    /// The object's URI.
    pub location: Location,
    pub facts: ObjectFacts,
}

/// The clients of a run, made when first needed, and the runtime they run on.
pub struct Remote {
    runtime: tokio::runtime::Runtime,
    options: RemoteOptions,
    settings: FetchSettings,
    stores: Mutex<HashMap<(Store, String), Arc<dyn object_store::ObjectStore>>>,
    http: OnceLock<Result<reqwest::Client, String>>,
    budget: ByteBudget,
}

impl Remote {
    pub fn new(options: RemoteOptions, settings: FetchSettings) -> anyhow::Result<Self> {
        install_crypto_provider();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("imbed-fetch")
            .enable_all()
            .build()
            .map_err(|error| anyhow::anyhow!("cannot start the fetch runtime: {error}"))?;
        let settings = settings.bounded();
        let budget = ByteBudget::new(settings.memory, settings.concurrency);
        Ok(Self { runtime, options, settings, stores: Mutex::default(), http: OnceLock::new(), budget })
    }

    pub fn settings(&self) -> &FetchSettings {
        &self.settings
    }

    pub fn runtime(&self) -> &tokio::runtime::Handle {
        self.runtime.handle()
    }

    fn store(&self, store: Store, bucket: &str) -> Result<Arc<dyn object_store::ObjectStore>, FetchError> {
        let mut stores = self.stores.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = stores.get(&(store, bucket.to_string())) {
            return Ok(Arc::clone(found));
        }
        let built = stores::build(store, bucket, &self.options, &self.settings, stores::Ceiling::Object)?;
        stores.insert((store, bucket.to_string()), Arc::clone(&built));
        Ok(built)
    }

    fn http(&self) -> Result<&reqwest::Client, FetchError> {
        let client = self.http.get_or_init(|| http::client(&self.settings).map_err(|error| format!("{error:#}")));
        client.as_ref().map_err(|message| FetchError::new(ErrorClass::Network, message.clone()))
    }

    /// Checks before a run that `location` (a prefix or a manifest) can be read: the bucket
    /// exists, the credentials are accepted, the endpoint answers. Without credentials in the
    /// environment, a cloud's metadata service is asked for at most two seconds.
    pub fn check(&self, location: &Location) -> anyhow::Result<()> {
        match location {
            Location::Object { store, bucket, key } => {
                let checker = stores::build(*store, bucket, &self.options, &self.settings, stores::Ceiling::Object)?;
                let probe = stores::check(checker, key.clone());
                let bound = refusals::check_bound(*store, &self.options, &self.settings);
                let outcome = self.runtime.block_on(async { tokio::time::timeout(bound, probe).await });
                match outcome {
                    Ok(result) => result.map_err(|error| refusals::check_failure(location, &self.options, error)),
                    Err(_) => Err(refusals::no_answer(location, &self.options, bound)),
                }
            }
            // A manifest's URL: it exists and may be read (its HEAD, or its first byte).
            Location::Http(url) => {
                let probe = http::head(self.http()?, url.expose(), &self.settings);
                self.runtime
                    .block_on(probe)
                    .map(drop)
                    .map_err(|error| anyhow::anyhow!("cannot read {location}: {error}"))
            }
        }
    }

    /// Lists the objects under a prefix in key order, after `offset` when given, page by page,
    /// calling `visit` with each; stops when it breaks.
    pub fn list(
        &self,
        prefix: &Location,
        offset: Option<&str>,
        visit: impl FnMut(Listed) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, FetchError> {
        let Location::Object { store, bucket, key } = prefix else {
            return Err(FetchError::new(ErrorClass::Unsupported, format!("{prefix} is a URL, not a prefix to list")));
        };
        let client = self.store(*store, bucket)?;
        stores::list(&self.runtime, client, &self.settings, *store, bucket, key, offset, visit)
    }

    /// What the store or server says of an object now, without its bytes.
    pub async fn head(&self, location: &Location) -> Result<ObjectFacts, FetchError> {
        let outcome = match location {
            Location::Object { store, bucket, key } => {
                stores::head(self.store(*store, bucket)?, key, &self.settings).await
            }
            Location::Http(url) => http::head(self.http()?, url.expose(), &self.settings).await,
        };
        outcome
    }

    /// Downloads one object, within the time-outs and tries of the settings and the size cap.
    pub async fn get(&self, location: &Location) -> Result<Download, FetchError> {
        let ceiling = self.settings.object_timeout;
        let fetch = async {
            match location {
                Location::Object { store, bucket, key } => {
                    stores::get(self.store(*store, bucket)?, key, &self.settings, &self.budget).await
                }
                Location::Http(url) => http::get(self.http()?, url.expose(), &self.settings, &self.budget).await,
            }
        };
        // The clients bound each try; this bounds the object, its tries and their pauses.
        let attempts = self.settings.max_attempts.max(1);
        let bound = ceiling.saturating_mul(attempts).saturating_add(ceiling).min(LONGEST_WAIT);
        match tokio::time::timeout(bound, fetch).await {
            Ok(outcome) => outcome,
            Err(_) => Err(FetchError::timeout(format!(
                "no complete answer within {}s ({attempts} tries of --object-timeout {}s, and their pauses)",
                bound.as_secs(),
                ceiling.as_secs()
            ))),
        }
    }

    /// The bytes of an object as they come (a manifest), for a thread outside the runtime:
    /// never whole in memory, nor capped by the size limit of images; each chunk must come
    /// within the stall time-out, however long the whole takes.
    pub fn open(&self, location: &Location) -> Result<ObjectReader, FetchError> {
        let stream = self.runtime.block_on(async {
            match location {
                Location::Object { store, bucket, key } => {
                    let client = stores::build(*store, bucket, &self.options, &self.settings, stores::Ceiling::Stream)?;
                    stores::open(client, key, &self.settings).await
                }
                Location::Http(url) => http::open(self.http()?, url.expose(), &self.settings).await,
            }
        })?;
        let (sender, receiver) = tokio::sync::mpsc::channel(READ_AHEAD_CHUNKS);
        self.runtime.spawn(pump(stream, sender, self.settings.clone()));
        Ok(ObjectReader { receiver, chunk: Bytes::new() })
    }
}

/// Chunks of an [`ObjectReader`] read ahead of its reader.
const READ_AHEAD_CHUNKS: usize = 4;

type Chunks = futures::stream::BoxStream<'static, Result<Bytes, FetchError>>;

/// Passes the chunks of `stream` to a reader until it ends, fails, stalls, or the reader goes.
async fn pump(
    mut stream: Chunks,
    sender: tokio::sync::mpsc::Sender<Result<Bytes, FetchError>>,
    settings: FetchSettings,
) {
    use futures::StreamExt;
    let mut received = 0;
    loop {
        // The stall clock runs while the server is awaited, not while the reader is.
        let next = tokio::select! {
            () = sender.closed() => return,
            next = tokio::time::timeout(settings.stall_timeout, stream.next()) => next,
        };
        let chunk = match next {
            Err(_) => Err(http::stalled(&settings, received)),
            Ok(None) => return,
            Ok(Some(chunk)) => chunk,
        };
        let failed = chunk.is_err();
        received += chunk.as_ref().map_or(0, Bytes::len);
        if sender.send(chunk).await.is_err() || failed {
            return;
        }
    }
}

/// A blocking [`std::io::Read`] over the chunks of a remote object, from [`Remote::open`].
pub struct ObjectReader {
    receiver: tokio::sync::mpsc::Receiver<Result<Bytes, FetchError>>,
    chunk: Bytes,
}

impl std::io::Read for ObjectReader {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.receiver.blocking_recv() {
                None => return Ok(0),
                Some(Ok(chunk)) => self.chunk = chunk,
                Some(Err(error)) => return Err(std::io::Error::other(error)),
            }
        }
        let length = buffer.len().min(self.chunk.len());
        buffer[..length].copy_from_slice(&self.chunk.split_to(length));
        Ok(length)
    }
}

/// rustls on ring, once per process: reqwest is built without a provider of its own.
fn install_crypto_provider() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        // An error means one is installed already, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loopback port that refuses connections.
    fn refused_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }

    #[test]
    fn the_longest_durations_do_not_panic() {
        let settings = FetchSettings {
            connect_timeout: Duration::MAX,
            stall_timeout: Duration::MAX,
            object_timeout: Duration::MAX,
            max_attempts: 2,
            ..FetchSettings::default()
        };
        let port = refused_port();
        // Unsigned: a client with no credentials would ask a cloud metadata service.
        let options = RemoteOptions {
            s3_endpoint: Some(format!("http://127.0.0.1:{port}")),
            no_sign: true,
            ..RemoteOptions::default()
        };
        let remote = Remote::new(options, settings).unwrap();
        let url = Location::parse(&format!("http://127.0.0.1:{port}/a.jpg")).unwrap().unwrap();
        let object = Location::parse("s3://bucket/a.jpg").unwrap().unwrap();
        for location in [&url, &object] {
            let error = remote.runtime.block_on(remote.get(location)).unwrap_err();
            assert!(error.unanswered && error.tries == 2, "{location}: {error:?}");
            assert!(remote.open(location).is_err());
        }
        assert!(remote.check(&url).is_err());

        // A server that answers: reqwest sets its read time-out from `Instant::now()`.
        let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let answered = Location::parse(&format!("http://{}/a.jpg", server.local_addr().unwrap())).unwrap().unwrap();
        std::thread::spawn(move || {
            use std::io::{Read, Write};
            let (mut stream, _) = server.accept().unwrap();
            let _ = stream.read(&mut [0; 4096]).unwrap();
            stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc").unwrap();
        });
        let download = remote.runtime.block_on(remote.get(&answered)).unwrap();
        assert_eq!(&download.bytes[..], b"abc");
    }
}
