//! One face for the three stores that the remote suite runs against: SeaweedFS (S3),
//! fake-gcs-server (GCS) and Azurite (Azure), each on loopback.
//!
//! Include it after `seaweedfs`, `fake_gcs`, `azurite` and `emulator`.
#![allow(dead_code)]

use std::net::SocketAddr;

use crate::azurite::{self, Azurite};
use crate::fake_gcs::FakeGcs;
use crate::seaweedfs::{self, SeaweedFs};

/// What tells the stores' requests and URLs apart.
pub struct Kind {
    /// The URI scheme: `s3`, `gs` or `az`.
    pub scheme: &'static str,
    /// The query parameter that carries the signature of `sign`'s URLs.
    pub signature_parameter: &'static str,
    /// What a listing's request line holds.
    pub listing_marker: &'static str,
    /// The query parameter of a listing that starts after (or from) a key.
    pub offset_parameter: &'static str,
    /// Keys in one page of a listing.
    pub page_size: usize,
}

/// A store emulator as the suite drives it.
pub trait TestStore: Sync {
    fn kind(&self) -> &'static Kind;
    /// The store's address, for a TcpProxy in front.
    fn addr(&self) -> SocketAddr;
    /// imbed's endpoint flag, pointing at `base` ("http://127.0.0.1:PORT": the store or a proxy).
    fn endpoint_args(&self, base: &str) -> Vec<String>;
    /// Variables for imbed: credentials (`None` removes one), never a cloud metadata service.
    fn vars(&self) -> Vec<(&'static str, Option<String>)>;
    /// Variables whose credentials the store refuses, where it checks any.
    fn wrong_credentials(&self) -> Option<Vec<(&'static str, Option<String>)>>;
    fn put_many(&self, bucket: &str, objects: Vec<(String, Vec<u8>)>);
    fn put(&self, bucket: &str, key: &str, bytes: &[u8]);
    fn delete(&self, bucket: &str, key: &str);
    /// A signed GET URL of the store's own kind (S3 presigned, GCS V4, Azure SAS).
    fn sign(&self, bucket: &str, key: &str) -> String;
    fn restart(&mut self);

    fn scheme(&self) -> &'static str {
        self.kind().scheme
    }
    fn signature_parameter(&self) -> &'static str {
        self.kind().signature_parameter
    }
    fn listing_marker(&self) -> &'static str {
        self.kind().listing_marker
    }
    fn offset_parameter(&self) -> &'static str {
        self.kind().offset_parameter
    }
    fn page_size(&self) -> usize {
        self.kind().page_size
    }
}

/// The base URL of a `SocketAddr` on loopback.
pub fn base(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

/// The methods each launcher has under the trait's names.
macro_rules! launcher_methods {
    ($launcher:ty) => {
        fn put_many(&self, bucket: &str, objects: Vec<(String, Vec<u8>)>) {
            <$launcher>::put_many(self, bucket, objects)
        }
        fn put(&self, bucket: &str, key: &str, bytes: &[u8]) {
            <$launcher>::put(self, bucket, key, bytes)
        }
        fn delete(&self, bucket: &str, key: &str) {
            <$launcher>::delete(self, bucket, key)
        }
        fn restart(&mut self) {
            <$launcher>::restart(self)
        }
    };
}

static S3: Kind = Kind {
    scheme: "s3",
    signature_parameter: "X-Amz-Signature=",
    listing_marker: "list-type=2",
    offset_parameter: "start-after=",
    page_size: 1000,
};

impl TestStore for SeaweedFs {
    fn kind(&self) -> &'static Kind {
        &S3
    }
    fn addr(&self) -> SocketAddr {
        self.s3_addr()
    }
    fn endpoint_args(&self, base: &str) -> Vec<String> {
        vec!["--s3-endpoint".into(), base.into()]
    }
    fn vars(&self) -> Vec<(&'static str, Option<String>)> {
        vec![
            ("AWS_ACCESS_KEY_ID", Some(seaweedfs::ACCESS_KEY.into())),
            ("AWS_SECRET_ACCESS_KEY", Some(seaweedfs::SECRET_KEY.into())),
            ("AWS_REGION", Some(seaweedfs::REGION.into())),
            ("AWS_METADATA_ENDPOINT", Some("http://127.0.0.1:9".into())),
            ("AWS_EC2_METADATA_DISABLED", Some("true".into())),
            ("AWS_SESSION_TOKEN", None),
            ("AWS_ENDPOINT_URL", None),
            ("AWS_PROFILE", None),
        ]
    }
    fn wrong_credentials(&self) -> Option<Vec<(&'static str, Option<String>)>> {
        Some(vec![("AWS_SECRET_ACCESS_KEY", Some("not-the-secret".into()))])
    }
    fn sign(&self, bucket: &str, key: &str) -> String {
        self.presign(bucket, key)
    }
    launcher_methods!(SeaweedFs);
}

/// Google's credential variables, all removed: fake-gcs-server is read unsigned.
const GOOGLE_CREDENTIALS: [&str; 5] = [
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_SERVICE_ACCOUNT",
    "GOOGLE_SERVICE_ACCOUNT_PATH",
    "GOOGLE_SERVICE_ACCOUNT_KEY",
    "STORAGE_EMULATOR_HOST",
];

static GCS: Kind = Kind {
    scheme: "gs",
    signature_parameter: "X-Goog-Signature=",
    listing_marker: "list-type=2",
    offset_parameter: "start-after=",
    page_size: 1000,
};

impl TestStore for FakeGcs {
    fn kind(&self) -> &'static Kind {
        &GCS
    }
    fn addr(&self) -> SocketAddr {
        FakeGcs::addr(self)
    }
    fn endpoint_args(&self, base: &str) -> Vec<String> {
        vec!["--gcs-endpoint".into(), base.into()]
    }
    fn vars(&self) -> Vec<(&'static str, Option<String>)> {
        GOOGLE_CREDENTIALS.iter().map(|name| (*name, None)).collect()
    }
    /// fake-gcs-server checks no credentials.
    fn wrong_credentials(&self) -> Option<Vec<(&'static str, Option<String>)>> {
        None
    }
    fn sign(&self, bucket: &str, key: &str) -> String {
        FakeGcs::sign(self, bucket, key)
    }
    launcher_methods!(FakeGcs);
}

/// Azure's page is 5,000 keys.
static AZURE: Kind = Kind {
    scheme: "az",
    signature_parameter: "sig=",
    listing_marker: "comp=list",
    offset_parameter: "startFrom=",
    page_size: 5000,
};

impl TestStore for Azurite {
    fn kind(&self) -> &'static Kind {
        &AZURE
    }
    fn addr(&self) -> SocketAddr {
        Azurite::addr(self)
    }
    fn endpoint_args(&self, base: &str) -> Vec<String> {
        vec!["--azure-endpoint".into(), format!("{base}/{}", azurite::ACCOUNT)]
    }
    fn vars(&self) -> Vec<(&'static str, Option<String>)> {
        vec![
            ("AZURE_STORAGE_ACCOUNT_NAME", Some(azurite::ACCOUNT.into())),
            ("AZURE_STORAGE_ACCOUNT_KEY", Some(azurite::KEY.into())),
            ("AZURE_STORAGE_USE_EMULATOR", None),
            ("AZURITE_BLOB_STORAGE_URL", None),
            ("AZURE_STORAGE_SAS_KEY", None),
            ("AZURE_CLIENT_ID", None),
            ("AZURE_CLIENT_SECRET", None),
            // Managed identity, were it ever asked: a closed loopback port.
            ("AZURE_MSI_ENDPOINT", Some("http://127.0.0.1:9".into())),
        ]
    }
    fn wrong_credentials(&self) -> Option<Vec<(&'static str, Option<String>)>> {
        let wrong = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 64]);
        Some(vec![("AZURE_STORAGE_ACCOUNT_KEY", Some(wrong))])
    }
    fn sign(&self, bucket: &str, key: &str) -> String {
        Azurite::sign(self, bucket, key)
    }
    launcher_methods!(Azurite);
}
