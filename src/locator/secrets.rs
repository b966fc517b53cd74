//! Keeping secrets out of what is shown: URLs with their userinfo, signatures and tokens.

use std::fmt;
use std::sync::{PoisonError, RwLock};

use url::Url;

/// A URL as given, which may carry secrets: a password in its userinfo, a signature or a
/// token in its query string. It has no `Display`, and its `Debug` shows only [`Self::shown`],
/// so that no message can print the secret parts by accident; only the fetch code asks for
/// the whole URL, with [`Self::expose`], to send the request.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(pub(super) Url);

impl SecretUrl {
    /// The whole URL, secrets included: for the request itself, never for a message.
    pub fn expose(&self) -> &Url {
        &self.0
    }

    /// For messages: no userinfo, no query string, no fragment.
    pub fn shown(&self) -> String {
        let mut shown = self.without_userinfo();
        shown.set_query(None);
        shown.set_fragment(None);
        shown.to_string()
    }

    /// For keys and payloads: no userinfo, no fragment, and none of the query parameters that
    /// sign or authorise the request ([`is_signing_parameter`]); the others stay, since an
    /// internal API's `?id=123` tells items apart.
    pub fn identity(&self) -> String {
        let mut unsigned = self.without_userinfo();
        unsigned.set_fragment(None);
        let kept: Vec<(String, String)> = self
            .0
            .query_pairs()
            .filter(|(name, _)| !is_signing_parameter(name))
            .map(|(name, value)| (name.into(), value.into()))
            .collect();
        if kept.is_empty() {
            unsigned.set_query(None);
        } else {
            unsigned.query_pairs_mut().clear().extend_pairs(kept);
        }
        unsigned.to_string()
    }

    fn without_userinfo(&self) -> Url {
        let mut url = self.0.clone();
        // Only URLs that cannot have userinfo (`data:`) refuse these; http(s) always can.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url
    }

    pub fn host_str(&self) -> Option<&str> {
        self.0.host_str()
    }

    pub fn port_or_known_default(&self) -> Option<u16> {
        self.0.port_or_known_default()
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SecretUrl").field(&self.shown()).finish()
    }
}

/// Query parameters named by `--ignore-query-param`, lower-cased: a CDN's `token=` and the like.
static IGNORED_PARAMETERS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Adds query parameters that identities leave out, beside the signing parameters of S3, GCS,
/// Azure and CloudFront. Set once per process from the run's settings (flag or checkpoint
/// record): every identity, wherever it is computed, must follow the same rule, and a run
/// has one rule.
pub fn ignore_query_parameters(names: &[String]) {
    let mut ignored = IGNORED_PARAMETERS.write().unwrap_or_else(PoisonError::into_inner);
    for name in names {
        let lower = name.to_ascii_lowercase();
        if !ignored.contains(&lower) {
            ignored.push(lower);
        }
    }
}

/// Query parameters that sign or authorise a request: AWS SigV4 and GCS V4 (`X-Amz-*`,
/// `X-Goog-*`), AWS SigV2 and GCS V2, Azure SAS tokens, CloudFront signed URLs, and those
/// named by [`ignore_query_parameters`]; matched case-insensitively.
pub fn is_signing_parameter(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("x-amz-")
        || lower.starts_with("x-goog-")
        // Azure SAS: service, account and user-delegation fields, and the response overrides it signs.
        || matches!(
            lower.as_str(),
            "sig" | "se" | "sp" | "sv" | "st" | "spr" | "sr" | "srt" | "ss" | "si" | "sdd" | "ses"
                | "skoid" | "sktid" | "skt" | "ske" | "sks" | "skv" | "saoid" | "suoid" | "scid" | "sduoid"
                | "rscc" | "rscd" | "rsce" | "rscl" | "rsct"
        )
        // AWS SigV2 and GCS V2 presigned URLs.
        || matches!(lower.as_str(), "awsaccesskeyid" | "signature" | "expires" | "googleaccessid")
        // CloudFront signed URLs (canned and custom policies).
        || matches!(lower.as_str(), "policy" | "key-pair-id")
        || IGNORED_PARAMETERS.read().unwrap_or_else(PoisonError::into_inner).contains(&lower)
}

/// `text` with every URL in it cut at its query string and stripped of its userinfo: for a
/// library's message that may quote a signed URL.
pub fn redacted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("://") {
        let (before, after) = rest.split_at(start);
        out.push_str(before);
        let end = after.find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '>')).unwrap_or(after.len());
        let url = &after[..end];
        let url = url.split(['?', '#']).next().unwrap_or(url);
        // `://user:pass@host/...`: the userinfo ends at the last `@` before the path.
        let authority_end = url[3..].find('/').map_or(url.len(), |at| at + 3);
        match url[..authority_end].rfind('@') {
            Some(at) => {
                out.push_str("://");
                out.push_str(&url[at + 1..]);
            }
            None => out.push_str(url),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}
