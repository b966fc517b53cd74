//! Plain and presigned HTTP(S) URLs through `reqwest`: the tries, the time-outs, the size
//! cap, and what each answer means.

use std::time::{Duration, SystemTime};

use bytes::BytesMut;
use url::Url;

use super::{ByteBudget, Download, FetchError, FetchSettings};
use crate::item::ErrorClass;
use crate::locator::ObjectFacts;
use crate::retry::backoff;

/// Redirects followed before an item fails: a loop fails at the limit.
const MAX_REDIRECTS: usize = 10;

pub(super) fn client(settings: &FetchSettings) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(settings.connect_timeout)
        // Between reads, headers included: a stall.
        .read_timeout(settings.stall_timeout)
        // From the request to the last byte of one try: the whole-object ceiling.
        .timeout(settings.object_timeout)
        .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
        .user_agent(concat!("imbed/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|error| anyhow::anyhow!("cannot set up the HTTP client: {error}"))
}

pub(super) fn too_large(size: u64, limit: u64) -> FetchError {
    FetchError::new(
        ErrorClass::TooLarge,
        format!("the object is {size} bytes or more, above the limit of {limit} (--max-file-size)"),
    )
}

pub(super) fn stalled(settings: &FetchSettings, received: usize) -> FetchError {
    FetchError::timeout(format!(
        "no byte for {}s after {received} bytes (--stall-timeout)",
        settings.stall_timeout.as_secs_f64()
    ))
}

/// Runs `once` until it succeeds, fails for good, or has been tried `max_attempts` times,
/// pausing as a 429 or 503 asks (`Retry-After`, at most the object time-out) or with backoff.
async fn retrying<T, F, Fut>(settings: &FetchSettings, once: F) -> Result<T, FetchError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, FetchError>>,
{
    let pause = |tries: u32, error: &FetchError| {
        (error.transient && tries < settings.max_attempts).then(|| {
            let asked = error.retry_after.map(|pause| pause.min(settings.object_timeout));
            asked.unwrap_or_else(|| backoff(tries))
        })
    };
    crate::retry::retrying(once, pause).await.map_err(|(error, tries)| error.after_tries(tries))
}

/// The facts of a URL without its body: a HEAD, or where that is refused (a presigned URL is
/// signed for GET alone), a GET of its first byte, whose body is dropped unread.
pub(super) async fn head(
    client: &reqwest::Client,
    url: &Url,
    settings: &FetchSettings,
) -> Result<ObjectFacts, FetchError> {
    retrying(settings, || async {
        match send(client.head(url.clone()), settings).await {
            // A HEAD's body is empty, so reqwest's `content_length()` says 0: the header tells.
            Ok(response) => {
                let length = response.headers().get(reqwest::header::CONTENT_LENGTH);
                Ok(facts(&response, length.and_then(|value| value.to_str().ok()?.parse().ok())))
            }
            Err(error) if matches!(error.class, ErrorClass::Denied) || error.message.starts_with("HTTP 405") => {
                let first_byte = client.get(url.clone()).header(reqwest::header::RANGE, "bytes=0-0");
                let response = send(first_byte, settings).await?;
                // `Content-Range: bytes 0-0/TOTAL` gives the size; a server without ranges, its length.
                let total = response
                    .headers()
                    .get(reqwest::header::CONTENT_RANGE)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|range| range.rsplit('/').next())
                    .and_then(|total| total.parse().ok());
                Ok(facts(&response, total.or(response.content_length())))
            }
            Err(error) => Err(error),
        }
    })
    .await
}

pub(super) async fn get(
    client: &reqwest::Client,
    url: &Url,
    settings: &FetchSettings,
    budget: &ByteBudget,
) -> Result<Download, FetchError> {
    retrying(settings, || get_once(client, url, settings, budget)).await
}

async fn get_once(
    client: &reqwest::Client,
    url: &Url,
    settings: &FetchSettings,
    budget: &ByteBudget,
) -> Result<Download, FetchError> {
    let mut response = send(client.get(url.clone()), settings).await?;
    // Without content coding it is the body's length; with it (gzip), reqwest gives none.
    let length = response.content_length();
    if let Some(length) = length.filter(|&length| length > settings.max_size) {
        return Err(too_large(length, settings.max_size));
    }
    let facts = facts(&response, length);
    let mut held = match length {
        Some(length) => budget.hold(length).await,
        None => budget.hold_first_part().await,
    };
    let mut body = BytesMut::with_capacity(length.unwrap_or(held.bytes()).min(settings.max_size) as usize);
    let mut turn = None;
    loop {
        // The stall clock runs while the server is awaited, not while the budget is.
        let chunk = match tokio::time::timeout(settings.stall_timeout, response.chunk()).await {
            Err(_) => return Err(stalled(settings, body.len())),
            Ok(Err(error)) => return Err(request_error(&error, body.len())),
            Ok(Ok(None)) => break,
            Ok(Ok(Some(chunk))) => chunk,
        };
        let total = (body.len() + chunk.len()) as u64;
        // A server that lies about the length still cannot fill memory.
        if total > settings.max_size {
            return Err(too_large(total, settings.max_size));
        }
        if length.is_none() && total > held.bytes() {
            // Past its first part, a body without a length grows in its turn, by half again.
            if turn.is_none() {
                turn = Some(budget.grow_turn().await);
            }
            if let Some(turn) = &turn {
                let wanted = total.max(held.bytes().saturating_add(held.bytes() / 2)).min(settings.max_size);
                budget.grow(turn, &mut held, total, wanted).await;
            }
            body.reserve((held.bytes().max(total) as usize).saturating_sub(body.len()));
        }
        body.extend_from_slice(&chunk);
    }
    held.settle();
    let facts = ObjectFacts { size: Some(body.len() as u64), ..facts };
    Ok(Download { bytes: body.freeze(), facts, held })
}

/// The body of a URL as a stream of chunks, without the whole-object ceiling (a manifest).
pub(super) async fn open(
    client: &reqwest::Client,
    url: &Url,
    settings: &FetchSettings,
) -> Result<futures::stream::BoxStream<'static, Result<bytes::Bytes, FetchError>>, FetchError> {
    use futures::StreamExt;
    let response = retrying(settings, || send(client.get(url.clone()).timeout(super::LONGEST_WAIT), settings)).await?;
    let chunks = futures::stream::unfold(Some((response, 0)), |state| async move {
        let (mut response, received) = state?;
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let received = received + chunk.len();
                Some((Ok(chunk), Some((response, received))))
            }
            Ok(None) => None,
            Err(error) => Some((Err(request_error(&error, received)), None)),
        }
    });
    Ok(chunks.boxed())
}

/// Sends a request and waits for its headers; a status other than success is an error.
async fn send(request: reqwest::RequestBuilder, settings: &FetchSettings) -> Result<reqwest::Response, FetchError> {
    let answer = settings.answer_timeout();
    let response = match tokio::time::timeout(answer, request.send()).await {
        Err(_) => {
            return Err(FetchError::timeout(format!("no answer within {}s (--stall-timeout)", answer.as_secs_f64())))
        }
        Ok(result) => result.map_err(|error| request_error(&error, 0))?,
    };
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    Err(FetchError::status(status.as_u16(), retry_after(response.headers())))
}

/// `Retry-After` in seconds or as an HTTP date.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds).min(super::LONGEST_WAIT));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(SystemTime::now()).unwrap_or_default())
}

fn facts(response: &reqwest::Response, length: Option<u64>) -> ObjectFacts {
    let header = |name| response.headers().get(name).and_then(|value| value.to_str().ok());
    let last_modified = header(reqwest::header::LAST_MODIFIED)
        .and_then(|text| httpdate::parse_http_date(text).ok())
        .and_then(|time| time.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map(|since| since.as_nanos() as i64);
    ObjectFacts {
        etag: header(reqwest::header::ETAG).map(str::to_string),
        size: length,
        last_modified_ns: last_modified,
    }
}

/// What a reqwest error means for the item. Its URL (which may carry a signature) is left
/// out: the caller names the item.
fn request_error(error: &reqwest::Error, received: usize) -> FetchError {
    let mut message = without_url_text(error);
    if error.is_timeout() {
        return FetchError::timeout(format!("timed out after {received} bytes: {message}"));
    }
    if error.is_redirect() {
        return FetchError::new(
            ErrorClass::Remote,
            format!("more than {MAX_REDIRECTS} redirects, or a redirect loop: {message}"),
        );
    }
    if error.is_connect() {
        return FetchError::unreachable(format!("cannot connect: {message}"));
    }
    if received > 0 || error.is_body() || error.is_decode() {
        message = format!("the body broke off after {received} bytes: {message}");
    }
    FetchError::transient(ErrorClass::Network, message)
}

/// The error and its causes on one line, without the URL.
fn without_url_text(error: &reqwest::Error) -> String {
    let shown = error.to_string();
    let mut text = shown.split(" for url (").next().unwrap_or(&shown).to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    crate::locator::redacted(&text)
}
