//! How a run reaches the remote stores: endpoints, unsigned requests, and the names of the
//! credential variables that were set; resolved once when a run starts, kept in its checkpoint.
//! The command hands in the variables: nothing here reads the environment.

use serde::{Deserialize, Serialize};

/// How the remote stores are reached: what a checkpoint records so that a resume reaches
/// them the same way. Secrets are never part of it, only the names of the variables that
/// held them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteOptions {
    /// The endpoint of an S3-compatible store (MinIO, SeaweedFS, Ceph, R2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_endpoint: Option<String>,
    /// The base URL of Google Cloud Storage's API (an emulator such as fake-gcs-server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcs_endpoint: Option<String>,
    /// The blob service URL of an Azure storage account (Azurite's includes the account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure_endpoint: Option<String>,
    /// The Azure endpoint is Azurite: its well-known account and key, unless others are set.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub azure_emulator: bool,
    /// Plain HTTP to an S3 endpoint given without a scheme that says so (`AWS_ALLOW_HTTP`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub s3_allow_http: bool,
    /// Send unsigned requests: public buckets.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_sign: bool,
    /// The credential variables that were set when the run started (names only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credentials_from: Vec<String>,
}

/// The endpoints a run was given by flags (or their `IMBED_*` variables).
#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    pub s3: Option<String>,
    pub gcs: Option<String>,
    pub azure: Option<String>,
}

/// The variables whose presence the checkpoint records (never their values).
const CREDENTIAL_VARIABLES: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ALLOW_HTTP",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "GOOGLE_SERVICE_ACCOUNT",
    "GOOGLE_SERVICE_ACCOUNT_PATH",
    "GOOGLE_SERVICE_ACCOUNT_KEY",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "AZURE_STORAGE_ACCOUNT_NAME",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_SAS_KEY",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_TENANT_ID",
];

/// Where Azurite listens unless `AZURITE_BLOB_STORAGE_URL` says otherwise, as object_store has it.
const AZURITE_DEFAULT_URL: &str = "http://127.0.0.1:10000";

/// Azurite's one built-in account.
pub(crate) const AZURITE_ACCOUNT: &str = "devstoreaccount1";

impl RemoteOptions {
    /// The options of a new run: the endpoints given, else those of the variables each
    /// store's own SDKs read (`AWS_ENDPOINT_URL`; `STORAGE_EMULATOR_HOST`;
    /// `AZURE_STORAGE_USE_EMULATOR` with `AZURITE_BLOB_STORAGE_URL`), and which credential
    /// variables are set. `set` gives a variable's value, `None` when unset or empty.
    pub fn from_variables(endpoints: Endpoints, no_sign: bool, set: impl Fn(&str) -> Option<String>) -> Self {
        let credentials_from =
            CREDENTIAL_VARIABLES.iter().filter(|name| set(name).is_some()).map(|name| name.to_string()).collect();
        // Google's libraries take a bare host:port here.
        let gcs_endpoint = endpoints.gcs.or_else(|| set("STORAGE_EMULATOR_HOST")).map(|host| with_scheme(&host));
        let azure_emulator = set("AZURE_STORAGE_USE_EMULATOR").is_some_and(|value| value.eq_ignore_ascii_case("true"));
        let azure_endpoint = endpoints.azure.or_else(|| {
            azure_emulator.then(|| {
                let url = set("AZURITE_BLOB_STORAGE_URL").unwrap_or_else(|| AZURITE_DEFAULT_URL.into());
                let account = set("AZURE_STORAGE_ACCOUNT_NAME").unwrap_or_else(|| AZURITE_ACCOUNT.into());
                format!("{}/{account}", url.trim_end_matches('/'))
            })
        });
        let options = Self {
            s3_endpoint: endpoints.s3,
            gcs_endpoint,
            azure_endpoint,
            azure_emulator,
            no_sign,
            credentials_from,
            ..Self::default()
        };
        options.with_s3_variables(set)
    }

    /// The S3 endpoint and plain-HTTP switch of `AWS_ENDPOINT_URL` and `AWS_ALLOW_HTTP` where
    /// none is recorded: a checkpoint from before they were recorded resumes as it ran.
    pub fn with_s3_variables(mut self, set: impl Fn(&str) -> Option<String>) -> Self {
        self.s3_endpoint = self.s3_endpoint.or_else(|| set("AWS_ENDPOINT_URL"));
        self.s3_allow_http |= set("AWS_ALLOW_HTTP").is_some_and(|value| value.eq_ignore_ascii_case("true"));
        self
    }
}

fn with_scheme(host: &str) -> String {
    if host.contains("://") {
        host.to_string()
    } else {
        format!("http://{host}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_emulator_host_gets_a_scheme() {
        assert_eq!(with_scheme("127.0.0.1:4443"), "http://127.0.0.1:4443");
        assert_eq!(with_scheme("https://gcs.internal"), "https://gcs.internal");
    }
}
