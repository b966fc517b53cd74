//! S3, GCS and Azure through `object_store`: clients with imbed's time-outs and tries,
//! listings, HEADs, GETs, and what their errors mean.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use futures::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::path::Path as ObjectPath;
use object_store::{BackoffConfig, ClientOptions, ObjectMeta, ObjectStore, ObjectStoreExt, RetryConfig};

use super::{refusals, ByteBudget, Download, FetchError, FetchSettings, Listed, RemoteOptions};
use crate::item::ErrorClass;
use crate::locator::{Location, ObjectFacts, Store};

/// How long a whole request may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ceiling {
    /// At most the object time-out: an image.
    Object,
    /// None: a manifest, read as fast as the run takes its lines. Stalls still fail it.
    Stream,
}

/// A client for one bucket (or container) that tries each request once: imbed's own loop
/// tries again, with its backoff, so that the tries are the ones `--max-attempts` says.
pub(super) fn build(
    store: Store,
    bucket: &str,
    options: &RemoteOptions,
    settings: &FetchSettings,
    ceiling: Ceiling,
) -> Result<Arc<dyn ObjectStore>, FetchError> {
    let endpoint = match store {
        Store::S3 => options.s3_endpoint.clone(),
        Store::Gcs => options.gcs_endpoint.clone(),
        Store::Azure => options.azure_endpoint.clone(),
    };
    let allow_http = endpoint.as_deref().is_some_and(|url| url.starts_with("http://"))
        || (store == Store::S3 && options.s3_allow_http);
    // object_store's default is a 30 s total per request, body included, which kills slow,
    // steady downloads (arrow-rs-object-store #386): a stall time-out, a connect time-out and
    // the whole-object ceiling replace it.
    let client = ClientOptions::new()
        .with_connect_timeout(settings.connect_timeout)
        .with_read_timeout(settings.stall_timeout)
        .with_allow_http(allow_http);
    let client = match ceiling {
        Ceiling::Object => client.with_timeout(settings.object_timeout),
        Ceiling::Stream => client.with_timeout_disabled(),
    };
    let retry =
        RetryConfig { backoff: BackoffConfig::default(), max_retries: 0, retry_timeout: settings.object_timeout };
    let built: object_store::Result<Arc<dyn ObjectStore>> = match store {
        Store::S3 => {
            let mut builder = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_client_options(client)
                .with_retry(retry)
                .with_skip_signature(options.no_sign);
            if let Some(endpoint) = &options.s3_endpoint {
                // S3-compatible stores serve buckets as paths, not as host names.
                builder = builder.with_endpoint(endpoint).with_virtual_hosted_style_request(false);
            }
            builder.build().map(|store| Arc::new(store) as _)
        }
        Store::Gcs => {
            let mut builder = GoogleCloudStorageBuilder::from_env()
                .with_bucket_name(bucket)
                .with_client_options(client)
                .with_retry(retry)
                .with_skip_signature(refusals::unsigned(store, options));
            if let Some(endpoint) = &options.gcs_endpoint {
                builder = builder.with_base_url(endpoint);
            }
            builder.build().map(|store| Arc::new(store) as _)
        }
        Store::Azure => {
            let mut builder = MicrosoftAzureBuilder::from_env()
                .with_container_name(bucket)
                .with_client_options(client)
                .with_retry(retry)
                .with_skip_signature(options.no_sign);
            if let Some(endpoint) = &options.azure_endpoint {
                // The recorded endpoint, not object_store's reading of the variables: a resume
                // reaches the same account wherever it runs.
                builder = builder.with_use_emulator(false).with_endpoint(endpoint.clone());
            }
            if options.azure_emulator {
                builder = azurite_defaults(builder);
            }
            builder.build().map(|store| Arc::new(store) as _)
        }
    };
    built.map_err(|error| {
        FetchError::new(
            ErrorClass::Remote,
            format!("cannot set up the client for {}://{bucket}: {}", store.scheme(), describe(&error)),
        )
    })
}

/// Azurite's well-known account and key (published by Microsoft, no secret), where the
/// environment names no other.
fn azurite_defaults(builder: MicrosoftAzureBuilder) -> MicrosoftAzureBuilder {
    use object_store::azure::AzureConfigKey;
    const AZURITE_KEY: &str =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    let unset = |key: AzureConfigKey| builder.get_config_value(&key).is_none_or(|value| value.is_empty());
    let (no_account, no_credential) = (
        unset(AzureConfigKey::AccountName),
        [AzureConfigKey::AccessKey, AzureConfigKey::SasKey, AzureConfigKey::Token].into_iter().all(unset),
    );
    let mut builder = builder;
    if no_account {
        builder = builder.with_account(super::AZURITE_ACCOUNT);
    }
    if no_credential {
        builder = builder.with_access_key(AZURITE_KEY);
    }
    builder
}

fn object_path(key: &str) -> ObjectPath {
    ObjectPath::parse(key).unwrap_or_else(|_| ObjectPath::from(key))
}

fn facts(meta: &ObjectMeta) -> ObjectFacts {
    ObjectFacts {
        etag: meta.e_tag.clone(),
        size: Some(meta.size),
        last_modified_ns: meta.last_modified.timestamp_nanos_opt(),
    }
}

/// Reads the first object under a prefix, or the HEAD of an object: what a run needs to work.
pub(super) async fn check(store: Arc<dyn ObjectStore>, key: String) -> Result<(), FetchError> {
    if key.is_empty() || key.ends_with('/') {
        let prefix = (!key.is_empty()).then(|| object_path(key.trim_end_matches('/')));
        let mut listing = store.list(prefix.as_ref());
        match listing.next().await {
            Some(Err(error)) => Err(classify(&error)),
            _ => Ok(()),
        }
    } else {
        store.head(&object_path(&key)).await.map(drop).map_err(|error| classify(&error))
    }
}

/// The pause before retry `tries` (1 for the first) of an object-store request: from 500 ms,
/// x3, at most 15 s, plus up to half again of jitter. A higher floor than other requests'
/// backoff, so that the tries outlast a store's restart.
fn store_backoff(tries: u32) -> Duration {
    let growth = 3u32.saturating_pow(tries.saturating_sub(1).min(8));
    let pause = Duration::from_millis(500).saturating_mul(growth).min(Duration::from_secs(15));
    pause.mul_f64(1.0 + fastrand::f64() / 2.0)
}

/// Runs `once` until it succeeds, fails for good, or has been tried `--max-attempts` times.
async fn retrying<T, F, Fut>(settings: &FetchSettings, once: F) -> Result<T, FetchError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, FetchError>>,
{
    let pause = |tries: u32, error: &FetchError| {
        (error.transient && tries < settings.max_attempts).then(|| store_backoff(tries))
    };
    crate::retry::retrying(once, pause).await.map_err(|(error, tries)| error.after_tries(tries))
}

/// Lists `key` as a folder (the objects under `key/`), in key order, after `offset`, calling
/// `visit` outside the runtime (it may block, or run requests of its own) between pages' items.
/// A page that fails for a reason that may pass is asked for again, after the last key seen.
#[allow(clippy::too_many_arguments)]
pub(super) fn list(
    runtime: &tokio::runtime::Runtime,
    client: Arc<dyn ObjectStore>,
    settings: &FetchSettings,
    store: Store,
    bucket: &str,
    key: &str,
    offset: Option<&str>,
    mut visit: impl FnMut(Listed) -> ControlFlow<()>,
) -> Result<ControlFlow<()>, FetchError> {
    let folder = key.trim_end_matches('/');
    let prefix = (!folder.is_empty()).then(|| object_path(folder));
    let mut after = offset.map(str::to_string);
    let mut tries = 1;
    loop {
        let mut listing = match &after {
            Some(after) => client.list_with_offset(prefix.as_ref(), &object_path(after)),
            None => client.list(prefix.as_ref()),
        };
        // A store that ignores the offset (Azurite's `startFrom`) lists from the start again.
        let floor = after.clone();
        let failed = loop {
            match runtime.block_on(listing.next()) {
                None => return Ok(ControlFlow::Continue(())),
                Some(Err(error)) => break classify(&error),
                Some(Ok(meta)) if floor.as_deref().is_some_and(|floor| meta.location.as_ref() <= floor) => {}
                Some(Ok(meta)) => {
                    tries = 1;
                    let key = meta.location.to_string();
                    after = Some(key.clone());
                    let location = Location::Object { store, bucket: bucket.to_string(), key };
                    if visit(Listed { location, facts: facts(&meta) }).is_break() {
                        return Ok(ControlFlow::Break(()));
                    }
                }
            }
        };
        if !failed.transient || tries >= settings.max_attempts {
            return Err(failed.after_tries(tries));
        }
        runtime.block_on(tokio::time::sleep(store_backoff(tries)));
        tries += 1;
    }
}

pub(super) async fn head(
    client: Arc<dyn ObjectStore>,
    key: &str,
    settings: &FetchSettings,
) -> Result<ObjectFacts, FetchError> {
    let path = object_path(key);
    let once = || async { client.head(&path).await.map(|meta| facts(&meta)).map_err(|error| classify(&error)) };
    retrying(settings, once).await
}

/// Downloads one object: refuses it by its size before reading, and caps what is read. A
/// failed request or body is tried again from its start.
pub(super) async fn get(
    client: Arc<dyn ObjectStore>,
    key: &str,
    settings: &FetchSettings,
    budget: &ByteBudget,
) -> Result<Download, FetchError> {
    retrying(settings, || get_once(Arc::clone(&client), key, settings, budget)).await
}

async fn get_once(
    client: Arc<dyn ObjectStore>,
    key: &str,
    settings: &FetchSettings,
    budget: &ByteBudget,
) -> Result<Download, FetchError> {
    let result = client.get(&object_path(key)).await.map_err(|error| classify(&error))?;
    let size = result.meta.size;
    if size > settings.max_size {
        return Err(super::http::too_large(size, settings.max_size));
    }
    let facts = facts(&result.meta);
    let held = budget.hold(size).await;
    let mut body = BytesMut::with_capacity(size as usize);
    let mut stream = result.into_stream();
    // The client's read time-out catches a stall first; this is the backstop.
    let stall = settings.stall_timeout.saturating_add(Duration::from_secs(1));
    loop {
        let chunk = match tokio::time::timeout(stall, stream.next()).await {
            Ok(Some(chunk)) => chunk.map_err(|error| classify(&error))?,
            Ok(None) => break,
            Err(_) => return Err(super::http::stalled(settings, body.len())),
        };
        if (body.len() + chunk.len()) as u64 > settings.max_size {
            return Err(super::http::too_large((body.len() + chunk.len()) as u64, settings.max_size));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Download { bytes: body.freeze(), facts, held })
}

/// The body of an object as a stream of chunks (a manifest), from a client without a ceiling.
pub(super) async fn open(
    client: Arc<dyn ObjectStore>,
    key: &str,
    settings: &FetchSettings,
) -> Result<futures::stream::BoxStream<'static, Result<bytes::Bytes, FetchError>>, FetchError> {
    let path = object_path(key);
    let result = retrying(settings, || async { client.get(&path).await.map_err(|error| classify(&error)) }).await?;
    Ok(result.into_stream().map(|chunk| chunk.map_err(|error| classify(&error))).boxed())
}

/// What an object_store error means for the item, with URLs' query strings and userinfo cut off, and
/// whether another try may help: the client tries once, so its transient errors come here.
fn classify(error: &object_store::Error) -> FetchError {
    use object_store::client::{HttpError, HttpErrorKind};
    use object_store::Error;
    let message = describe(error);
    match error {
        Error::NotFound { .. } => return FetchError::new(ErrorClass::NotFound, "no such object (or bucket)"),
        Error::PermissionDenied { .. } | Error::Unauthenticated { .. } => {
            return FetchError::new(ErrorClass::Denied, message)
        }
        _ => {}
    }
    // A listing's errors and others come unclassified: the status and the S3 error code tell.
    let status = status_of(&message);
    // fake-gcs-server answers a listing of a missing bucket with a 500 "no bucket named".
    let missing = ["NoSuchBucket", "NoSuchKey", "ContainerNotFound", "no bucket named"];
    if status == Some(404) || missing.iter().any(|code| message.contains(code)) {
        return FetchError::new(ErrorClass::NotFound, message);
    }
    let refused =
        ["AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId", "AuthorizationFailure", "AuthenticationFailed"];
    if matches!(status, Some(401 | 403)) || refused.iter().any(|code| message.contains(code)) {
        return FetchError::new(ErrorClass::Denied, message);
    }
    if matches!(status, Some(429 | 500..=599)) || ["SlowDown", "InternalError"].iter().any(|c| message.contains(c)) {
        return FetchError::transient(ErrorClass::Remote, message);
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(http) = cause.downcast_ref::<HttpError>() {
            return match http.kind() {
                HttpErrorKind::Timeout => FetchError::timeout(message),
                HttpErrorKind::Connect => FetchError::unreachable(message),
                // A reset, a body cut short, a pooled connection that a restarted store closed.
                HttpErrorKind::Request | HttpErrorKind::Interrupted | HttpErrorKind::Decode => {
                    FetchError::transient(ErrorClass::Network, message)
                }
                _ if message.contains("connection") => FetchError::transient(ErrorClass::Network, message),
                _ => FetchError::new(ErrorClass::Remote, message),
            };
        }
        source = cause.source();
    }
    FetchError::new(ErrorClass::Remote, message)
}

/// The HTTP status that object_store's message names ("... status code: 503 Service Unavailable").
fn status_of(message: &str) -> Option<u16> {
    let (_, after) = message.split_once("status code: ")?;
    after.get(..3)?.parse().ok()
}

/// An error and its causes on one line, with URLs' query strings and userinfo cut off.
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    crate::locator::redacted(&text)
}
