//! One face for the three stores that the remote suite runs against: SeaweedFS (S3),
//! fake-gcs-server (GCS) and Azurite (Azure), each on loopback.
//!
//! Include it after `seaweedfs`, `fake_gcs`, `azurite` and `emulator`.
#![allow(dead_code)]

use std::net::SocketAddr;

use crate::azurite::{self, Azurite};
use crate::fake_gcs::FakeGcs;
use crate::seaweedfs::{self, SeaweedFs};

/// A store emulator as the suite drives it.
pub trait TestStore: Sync {
    /// The URI scheme: `s3`, `gs` or `az`.
    fn scheme(&self) -> &'static str;
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
    /// The query parameter that carries the signature of `sign`'s URLs.
    fn signature_parameter(&self) -> &'static str;
    /// What a listing's request line holds.
    fn listing_marker(&self) -> &'static str;
    /// The query parameter of a listing that starts after (or from) a key.
    fn offset_parameter(&self) -> &'static str;
    /// Keys in one page of a listing.
    fn page_size(&self) -> usize;
    fn restart(&mut self);
}

/// The base URL of a `SocketAddr` on loopback.
pub fn base(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

impl TestStore for SeaweedFs {
    fn scheme(&self) -> &'static str {
        "s3"
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
    fn put_many(&self, bucket: &str, objects: Vec<(String, Vec<u8>)>) {
        SeaweedFs::put_many(self, bucket, objects)
    }
    fn put(&self, bucket: &str, key: &str, bytes: &[u8]) {
        SeaweedFs::put(self, bucket, key, bytes)
    }
    fn delete(&self, bucket: &str, key: &str) {
        SeaweedFs::delete(self, bucket, key)
    }
    fn sign(&self, bucket: &str, key: &str) -> String {
        self.presign(bucket, key)
    }
    fn signature_parameter(&self) -> &'static str {
        "X-Amz-Signature="
    }
    fn listing_marker(&self) -> &'static str {
        "list-type=2"
    }
    fn offset_parameter(&self) -> &'static str {
        "start-after="
    }
    fn page_size(&self) -> usize {
        1000
    }
    fn restart(&mut self) {
        SeaweedFs::restart(self)
    }
}

/// Google's credential variables, all removed: fake-gcs-server is read unsigned.
const GOOGLE_CREDENTIALS: [&str; 5] = [
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_SERVICE_ACCOUNT",
    "GOOGLE_SERVICE_ACCOUNT_PATH",
    "GOOGLE_SERVICE_ACCOUNT_KEY",
    "STORAGE_EMULATOR_HOST",
];

impl TestStore for FakeGcs {
    fn scheme(&self) -> &'static str {
        "gs"
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
    fn wrong_credentials(&self) -> Option<Vec<(&'static str, Option<String>)>> {
        None
    }
    fn put_many(&self, bucket: &str, objects: Vec<(String, Vec<u8>)>) {
        FakeGcs::put_many(self, bucket, objects)
    }
    fn put(&self, bucket: &str, key: &str, bytes: &[u8]) {
        FakeGcs::put(self, bucket, key, bytes)
    }
    fn delete(&self, bucket: &str, key: &str) {
        FakeGcs::delete(self, bucket, key)
    }
    fn sign(&self, bucket: &str, key: &str) -> String {
        FakeGcs::sign(self, bucket, key)
    }
    fn signature_parameter(&self) -> &'static str {
        "X-Goog-Signature="
    }
    fn listing_marker(&self) -> &'static str {
        "list-type=2"
    }
    fn offset_parameter(&self) -> &'static str {
        "start-after="
    }
    fn page_size(&self) -> usize {
        1000
    }
    fn restart(&mut self) {
        FakeGcs::restart(self)
    }
}

impl TestStore for Azurite {
    fn scheme(&self) -> &'static str {
        "az"
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
    fn put_many(&self, bucket: &str, objects: Vec<(String, Vec<u8>)>) {
        Azurite::put_many(self, bucket, objects)
    }
    fn put(&self, bucket: &str, key: &str, bytes: &[u8]) {
        Azurite::put(self, bucket, key, bytes)
    }
    fn delete(&self, bucket: &str, key: &str) {
        Azurite::delete(self, bucket, key)
    }
    fn sign(&self, bucket: &str, key: &str) -> String {
        Azurite::sign(self, bucket, key)
    }
    fn signature_parameter(&self) -> &'static str {
        "sig="
    }
    fn listing_marker(&self) -> &'static str {
        "comp=list"
    }
    fn offset_parameter(&self) -> &'static str {
        "startFrom="
    }
    /// Azure's page is 5,000 keys.
    fn page_size(&self) -> usize {
        5000
    }
    fn restart(&mut self) {
        Azurite::restart(self)
    }
}
