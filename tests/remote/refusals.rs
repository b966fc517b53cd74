//! Runs refused before the model loads: a missing bucket, refused credentials, an endpoint
//! that cannot be reached (naming that store's own flags and variables), and a metadata
//! probe without credentials that is bounded.

use std::time::{Duration, Instant};

use crate::common::Workspace;
use crate::object_stores::{base, TestStore};
use crate::{imbed, seaweedfs, with_vars};

/// A refusal: exit 2, one line on stderr that contains each of `expected`, before the model
/// loads (the model given does not exist), within `bound`, with no secret in it; its stderr.
fn assert_refused(
    store: &dyn TestStore,
    mut command: assert_cmd::Command,
    expected: &[&str],
    bound: Duration,
) -> String {
    let started = Instant::now();
    let output = command.output().expect("run imbed");
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    for expected in expected {
        assert!(stderr.contains(expected), "{expected:?} in {stderr}");
    }
    assert!(!stderr.contains("model"), "refused before the model: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(elapsed < bound, "took {elapsed:?}");
    for (name, value) in store.vars().into_iter().filter_map(|(name, value)| Some((name, value?))) {
        assert!(!(name.contains("KEY") || name.contains("SECRET")) || !stderr.contains(&value), "{name}: {stderr}");
    }
    stderr
}

/// `imbed index SOURCE --model no/such/model` with the store's endpoint flag at `endpoint`.
fn refused_run(ws: &Workspace, store: &dyn TestStore, source: &str, endpoint: &str) -> assert_cmd::Command {
    let mut command = imbed(ws, store, &["index", source, "--model", "no/such/model", "--max-attempts", "1"]);
    command.args(store.endpoint_args(endpoint));
    command
}

pub fn refused(store: &dyn TestStore) {
    let ws = Workspace::new();
    let missing = refused_run(&ws, store, &format!("{}://no-such-bucket/x/", store.scheme()), &base(store.addr()));
    let _ = assert_refused(store, missing, &["bucket `no-such-bucket` does not exist"], Duration::from_secs(20));

    // fake-gcs-server checks no credentials, so only S3 and Azure can refuse them here.
    if let Some(wrong) = store.wrong_credentials() {
        let mut process = Workspace::process(&ws);
        with_vars(&mut process, &store.vars());
        with_vars(&mut process, &wrong);
        process.args(["index", &format!("{}://photos/", store.scheme()), "--model", "no/such/model"]);
        process.args(["--max-attempts", "1"]).args(store.endpoint_args(&base(store.addr())));
        let wrong = assert_cmd::Command::from_std(process);
        let _ = assert_refused(store, wrong, &["refused the credentials"], Duration::from_secs(20));
    }
}

pub fn unreachable(store: &dyn TestStore) {
    let ws = Workspace::new();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let command = refused_run(&ws, store, &format!("{}://photos/", store.scheme()), &base(closed));
    let (own, foreign): (&[&str], &str) = match store.scheme() {
        "s3" => (&["--s3-endpoint", "AWS_ENDPOINT_URL"], "STORAGE_EMULATOR_HOST"),
        "gs" => (&["--gcs-endpoint", "IMBED_GCS_ENDPOINT", "STORAGE_EMULATOR_HOST"], "--s3-endpoint"),
        _ => (&["--azure-endpoint", "AZURE_STORAGE_USE_EMULATOR", "AZURITE_BLOB_STORAGE_URL"], "--s3-endpoint"),
    };
    let mut expected = vec!["cannot reach"];
    expected.extend_from_slice(own);
    let stderr = assert_refused(store, command, &expected, Duration::from_secs(20));
    assert!(!stderr.contains(foreign), "another store's hint: {stderr}");
}

#[test]
fn without_aws_credentials_the_metadata_probe_is_bounded_and_says_what_to_set() {
    let Some(server) = seaweedfs::shared() else { return };
    // A "metadata service" on loopback that accepts and never answers: the probe must not hang.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let metadata = format!("http://{}", silent.local_addr().unwrap());
    let ws = Workspace::new();
    let mut command = ws.imbed();
    command
        .args(["index", "s3://photos/", "--model", "no/such/model", "--s3-endpoint", &server.endpoint()])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
        .env_remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        .env("AWS_METADATA_ENDPOINT", &metadata)
        .env("AWS_REGION", seaweedfs::REGION);
    let _ = assert_refused(server, command, &["AWS_ACCESS_KEY_ID"], Duration::from_secs(6));
    drop(silent);
}
