//! What a run that cannot read its remote source says: per store, the flags and variables
//! that would fix it, and how long the check may wait for credentials.

use std::time::Duration;

use super::{FetchError, FetchSettings, RemoteOptions};
use crate::item::ErrorClass;
use crate::locator::{Location, Store};

/// Requests to `store` go unsigned: `--no-sign`, or a GCS emulator without GCS credentials,
/// as Google's libraries do with `STORAGE_EMULATOR_HOST` (and no metadata service is asked).
pub(super) fn unsigned(store: Store, options: &RemoteOptions) -> bool {
    options.no_sign || (store == Store::Gcs && options.gcs_endpoint.is_some() && !has_credentials(store, options))
}

/// How long a check may take: a few seconds when credentials would come from a metadata service.
pub(super) fn check_bound(store: Store, options: &RemoteOptions, settings: &FetchSettings) -> Duration {
    if unsigned(store, options) || has_credentials(store, options) {
        settings.answer_timeout().min(Duration::from_secs(60))
    } else {
        Duration::from_secs(2)
    }
}

fn has_credentials(store: Store, options: &RemoteOptions) -> bool {
    let prefixes: &[&str] = match store {
        Store::S3 => &["AWS_ACCESS_KEY_ID", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS"],
        Store::Gcs => &["GOOGLE_"],
        Store::Azure if options.azure_emulator => return true,
        Store::Azure => &["AZURE_STORAGE_ACCOUNT_KEY", "AZURE_STORAGE_SAS", "AZURE_CLIENT_SECRET"],
    };
    options.credentials_from.iter().any(|name| prefixes.iter().any(|prefix| name.starts_with(prefix)))
}

/// Where the credentials of a store come from, when none were found.
fn credential_hint(store: Store) -> &'static str {
    match store {
        Store::S3 => "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary keys), or pass --no-sign for a public bucket",
        Store::Gcs => "set GOOGLE_APPLICATION_CREDENTIALS (or GOOGLE_SERVICE_ACCOUNT), or pass --no-sign for a public bucket",
        Store::Azure => "set AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_ACCOUNT_KEY (or AZURE_STORAGE_SAS_KEY), AZURE_STORAGE_USE_EMULATOR=true for Azurite, or pass --no-sign for a public container",
    }
}

/// Where the endpoint of a store is set.
fn endpoint_hint(store: Store) -> &'static str {
    match store {
        Store::S3 => "check --s3-endpoint (IMBED_S3_ENDPOINT) or AWS_ENDPOINT_URL",
        Store::Gcs => "check --gcs-endpoint (IMBED_GCS_ENDPOINT) or STORAGE_EMULATOR_HOST",
        Store::Azure => {
            "check --azure-endpoint (IMBED_AZURE_ENDPOINT), or AZURE_STORAGE_USE_EMULATOR=true with AZURITE_BLOB_STORAGE_URL"
        }
    }
}

fn endpoint_text(store: Store, options: &RemoteOptions) -> String {
    let given = match store {
        Store::S3 => options.s3_endpoint.clone(),
        Store::Gcs => options.gcs_endpoint.clone(),
        Store::Azure => options.azure_endpoint.clone(),
    };
    let default = match store {
        Store::S3 => "AWS S3",
        Store::Gcs => "Google Cloud Storage",
        Store::Azure => "Azure Blob Storage",
    };
    given.map_or_else(|| default.to_string(), |url| crate::locator::redacted(&url))
}

/// The one-line refusal of a run whose remote source failed its check.
pub(super) fn check_failure(location: &Location, options: &RemoteOptions, error: FetchError) -> anyhow::Error {
    let Location::Object { store, bucket, key } = location else { return anyhow::anyhow!("{location}: {error}") };
    let endpoint = endpoint_text(*store, options);
    let without_credentials = !unsigned(*store, options) && !has_credentials(*store, options);
    let message = match error.class {
        ErrorClass::NotFound if key.is_empty() || key.ends_with('/') => {
            format!("bucket `{bucket}` does not exist at {endpoint} ({location})")
        }
        ErrorClass::NotFound => format!("{location} does not exist at {endpoint}"),
        ErrorClass::Denied if without_credentials => {
            format!("{endpoint} refused to serve {location} without credentials: {}", credential_hint(*store))
        }
        ErrorClass::Denied => format!(
            "{endpoint} refused the credentials for {location} (from {}); check them, and that they may read the bucket",
            if options.credentials_from.is_empty() { "no variables".to_string() } else { options.credentials_from.join(", ") }
        ),
        ErrorClass::Network | ErrorClass::Timeout if without_credentials => {
            format!("cannot read {location}: no credentials were found ({}): {}", error.message, credential_hint(*store))
        }
        ErrorClass::Network | ErrorClass::Timeout => {
            format!("cannot reach {endpoint} for {location}: {}; {}", error.message, endpoint_hint(*store))
        }
        _ => format!("cannot read {location} at {endpoint}: {}", error.message),
    };
    anyhow::anyhow!(message)
}

/// The refusal of a run whose check got no answer in time.
pub(super) fn no_answer(location: &Location, options: &RemoteOptions, bound: Duration) -> anyhow::Error {
    let Location::Object { store, .. } = location else { return anyhow::anyhow!("{location} did not answer") };
    if !unsigned(*store, options) && !has_credentials(*store, options) {
        anyhow::anyhow!(
            "no credentials for {location} were found in the environment, and no cloud metadata service answered within {}s: {}",
            bound.as_secs(),
            credential_hint(*store)
        )
    } else {
        anyhow::anyhow!(
            "{} did not answer within {}s for {location}; {}",
            endpoint_text(*store, options),
            bound.as_secs(),
            endpoint_hint(*store)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_store_names_its_own_flags_and_variables() {
        let refused = || FetchError::unreachable("connection refused");
        let options = RemoteOptions { no_sign: true, ..RemoteOptions::default() };
        for (uri, expected, foreign) in [
            ("s3://b/", "--s3-endpoint", "STORAGE_EMULATOR_HOST"),
            ("gs://b/", "STORAGE_EMULATOR_HOST", "--s3-endpoint"),
            ("az://b/", "AZURITE_BLOB_STORAGE_URL", "--s3-endpoint"),
        ] {
            let location = Location::parse(uri).unwrap().unwrap();
            let message = check_failure(&location, &options, refused()).to_string();
            assert!(message.contains(expected) && !message.contains(foreign), "{uri}: {message}");
        }
    }

    #[test]
    fn a_gcs_emulator_without_credentials_is_read_unsigned() {
        let emulator = RemoteOptions { gcs_endpoint: Some("http://127.0.0.1:4443".into()), ..RemoteOptions::default() };
        assert!(unsigned(Store::Gcs, &emulator) && !unsigned(Store::S3, &emulator));
        let with_key = RemoteOptions { credentials_from: vec!["GOOGLE_SERVICE_ACCOUNT".into()], ..emulator };
        assert!(!unsigned(Store::Gcs, &with_key));
        assert!(!unsigned(Store::Gcs, &RemoteOptions::default()));
    }
}
