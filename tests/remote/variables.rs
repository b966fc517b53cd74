//! The emulators reached through the variables their own SDKs read, with no endpoint flag:
//! `STORAGE_EMULATOR_HOST` for GCS, `AZURE_STORAGE_USE_EMULATOR` with
//! `AZURITE_BLOB_STORAGE_URL` for Azure. The endpoint they give is recorded in the
//! checkpoint, so that a resume without them reaches the same store.

use crate::common::{tiny_model, Workspace};
use crate::object_stores::TestStore;
use crate::{azurite, fake_gcs, put_photos, summary_of, uri, with_vars};

/// Indexes `SCHEME://photos/PREFIX` with `vars` and no endpoint flag; then, after one more
/// object, resumes without them: the recorded endpoint finds the new object.
fn indexed_through(store: &dyn TestStore, prefix: &str, vars: &[(&str, Option<String>)]) {
    put_photos(store, "photos", prefix, 3);
    let ws = Workspace::new();
    let mut command = ws.process();
    with_vars(&mut command, &store.vars());
    with_vars(&mut command, vars);
    command.args(["index", &uri(store, "photos", prefix), "--json", "--model"]).arg(tiny_model());
    let (first, code) = summary_of(assert_cmd::Command::from_std(command));
    assert_eq!((code, first["items"]["done"].as_u64()), (0, Some(3)), "{first}");

    store.put("photos", &format!("{prefix}zz-new.png"), &crate::tiny_photo());
    let mut command = ws.process();
    with_vars(&mut command, &store.vars());
    command.args(["resume", "--json"]);
    let (second, code) = summary_of(assert_cmd::Command::from_std(command));
    assert_eq!(code, 0, "{second}");
    assert_eq!(crate::common::points(&second), 4, "the resume listed the same store: {second}");
}

#[test]
fn gcs_storage_emulator_host_is_enough_and_recorded_for_resume() {
    let Some(server) = fake_gcs::shared() else { return };
    // Google's libraries take a bare host:port.
    let host = server.endpoint().trim_start_matches("http://").to_string();
    indexed_through(server, "emulator-host/", &[("STORAGE_EMULATOR_HOST", Some(host))]);
}

#[test]
fn azure_use_emulator_with_azurite_url_is_enough_and_recorded_for_resume() {
    let Some(server) = azurite::shared() else { return };
    let vars = [
        ("AZURE_STORAGE_USE_EMULATOR", Some("true".to_string())),
        ("AZURITE_BLOB_STORAGE_URL", Some(server.url())),
        // The well-known account and key come with the emulator.
        ("AZURE_STORAGE_ACCOUNT_NAME", None),
        ("AZURE_STORAGE_ACCOUNT_KEY", None),
    ];
    indexed_through(server, "use-emulator/", &vars);
}
