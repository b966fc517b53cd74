//! Resolution: flag over variable over the checkpoint's record over the default, and the
//! values refused before anything runs.

use std::time::Duration;

use clap::Parser;

use super::*;
use crate::cli::{Cli, Command};
use crate::pipeline::{Fingerprints, RecordedControl, RunRecord};

fn parse(args: &[&str]) -> Command {
    let mut line = vec!["imbed"];
    line.extend_from_slice(args);
    match Cli::try_parse_from(line) {
        Ok(cli) => cli.command,
        Err(error) => panic!("{args:?}: {error}"),
    }
}

fn refusal(args: &[&str]) -> clap::Error {
    let mut line = vec!["imbed"];
    line.extend_from_slice(args);
    match Cli::try_parse_from(line) {
        Ok(cli) => panic!("{args:?} was taken: {:?}", cli.command),
        Err(error) => error,
    }
}

const NO_STORE: &str = "/nonexistent/imbed-store";

fn index(args: &[&str], env: &Environment) -> RunSettings {
    let mut line = vec!["index", "photos", "--model", "/models/clip", "--store", NO_STORE];
    line.extend_from_slice(args);
    let Command::Index(args) = parse(&line) else { panic!("not index") };
    RunSettings::index(args, env).expect("resolve index")
}

/// A checkpoint's record of `index photos` with `control`, resumed with `args`.
fn resume(control: RecordedControl, args: &[&str], env: &Environment) -> anyhow::Result<RunSettings> {
    let spec = index(&[], env).spec;
    let fingerprints = Fingerprints { model: "xxh3:0".into(), preprocess: "xxh3:0".into() };
    let record = RunRecord { spec, fingerprints, control };
    let mut line = vec!["resume"];
    line.extend_from_slice(args);
    let Command::Resume(args) = parse(&line) else { panic!("not resume") };
    let flags = RecordedFlags {
        run: &args.run,
        connection: &args.connection,
        write: &args.write,
        force: args.force,
        classes: &[],
    };
    RunSettings::recorded(&record, &flags, env)
}

fn no_variables() -> Environment {
    Environment::of(&[], "/work")
}

#[test]
fn defaults_hold_where_nothing_is_given() {
    let settings = index(&[], &no_variables());
    assert_eq!(settings.control.fetch.concurrency, 32);
    assert_eq!(settings.control.fetch.max_attempts, 3);
    assert_eq!(settings.control.fetch.stall_timeout, Duration::from_secs(30));
    assert_eq!(settings.control.pipeline.decode_memory, 1024 << 20);
    assert_eq!(settings.control.log_interval, Duration::from_secs(10));
    assert!(settings.control.recorded.is_empty(), "{:?}", settings.control.recorded);
    assert_eq!(settings.spec.working_dir, std::path::Path::new("/work"));
    assert!(settings.server.is_none() && settings.spec.shard.is_none());
}

#[test]
fn a_flag_wins_over_the_variable_of_the_same_setting() {
    let env = Environment::of(
        &[("AWS_ENDPOINT_URL", "http://from-variable:8333"), ("QDRANT_API_KEY", "from-variable")],
        "/work",
    );
    let given =
        index(&["--s3-endpoint", "http://from-flag:8333", "--qdrant", "http://q:6334", "--api-key", "flag"], &env);
    assert_eq!(given.spec.sources.remote.s3_endpoint.as_deref(), Some("http://from-flag:8333"));
    assert_eq!(given.server.as_ref().and_then(|server| server.api_key.as_deref()), Some("flag"));
    let from_env = index(&["--qdrant", "http://q:6334"], &env);
    assert_eq!(from_env.spec.sources.remote.s3_endpoint.as_deref(), Some("http://from-variable:8333"));
    assert_eq!(from_env.server.as_ref().and_then(|server| server.api_key.as_deref()), Some("from-variable"));
    assert!(from_env.spec.sink.qdrant.as_ref().is_some_and(|target| target.api_key_used));
}

#[test]
fn the_scheduler_picks_the_shard_unless_the_flag_does() {
    let env = Environment::of(&[("JOB_COMPLETION_INDEX", "2")], "/work");
    let scheduled = index(&["--shard-count", "4"], &env).spec.shard.expect("a shard");
    assert_eq!((scheduled.index, scheduled.count), (2, 4));
    let flagged = index(&["--shard", "1/4"], &env).spec.shard.expect("a shard");
    assert_eq!((flagged.index, flagged.count), (1, 4));
}

#[test]
fn resume_takes_the_recorded_control_under_the_flags_given_now() {
    let env = no_variables();
    let recorded = RecordedControl {
        fetch_concurrency: Some(8),
        max_attempts: Some(5),
        fetch_stall_timeout: Some(Duration::from_secs(7)),
        upsert_batch: Some(64),
        ..RecordedControl::default()
    };
    let resumed = resume(recorded.clone(), &[], &env).expect("resolve");
    assert_eq!(resumed.control.fetch.concurrency, 8, "the record over the default");
    assert_eq!(resumed.control.fetch.max_attempts, 5);
    assert_eq!(resumed.control.fetch.stall_timeout, Duration::from_secs(7));
    assert_eq!(
        resumed.control.fetch.object_timeout,
        Duration::from_secs(300),
        "the default where nothing was recorded"
    );
    assert_eq!(resumed.control.recorded, recorded);

    let flagged = resume(recorded, &["--fetch-concurrency", "2", "--stall-timeout", "3"], &env).expect("resolve");
    assert_eq!(flagged.control.fetch.concurrency, 2, "the flag over the record");
    assert_eq!(flagged.control.fetch.stall_timeout, Duration::from_secs(3), "the old spelling is the same flag");
    assert_eq!(flagged.control.fetch.max_attempts, 5);
    assert_eq!(flagged.control.recorded.fetch_concurrency, Some(2), "recorded for the next resume");
}

#[test]
fn index_records_what_was_given_and_nothing_else() {
    let settings = index(&["--fetch-concurrency", "4", "--max-failures", "9", "--upsert-batch", "16"], &no_variables());
    let expected = RecordedControl {
        fetch_concurrency: Some(4),
        max_failures: Some(9),
        upsert_batch: Some(16),
        ..RecordedControl::default()
    };
    assert_eq!(settings.control.recorded, expected);
    assert_eq!(settings.control.pipeline.max_failures, Some(9));
}

#[test]
fn a_run_that_used_a_key_is_not_resumed_without_one() {
    let with_key = Environment::of(&[("QDRANT_API_KEY", "secret")], "/work");
    let fingerprints = Fingerprints { model: "xxh3:0".into(), preprocess: "xxh3:0".into() };
    let spec = index(&["--qdrant", "http://q:6334"], &with_key).spec;
    let record = RunRecord { spec, fingerprints, control: RecordedControl::default() };
    let Command::Resume(args) = parse(&["resume"]) else { panic!("not resume") };
    let flags =
        RecordedFlags { run: &args.run, connection: &args.connection, write: &args.write, force: false, classes: &[] };
    let error = RunSettings::recorded(&record, &flags, &no_variables()).expect_err("refused");
    assert!(error.to_string().contains("used an API key"), "{error}");
    let resumed = RunSettings::recorded(&record, &flags, &with_key).expect("resolve");
    assert_eq!(resumed.server.and_then(|server| server.api_key).as_deref(), Some("secret"));
}

#[test]
fn the_old_spellings_are_hidden_aliases_of_the_new() {
    let env = no_variables();
    let old = index(&["--qdrant", "http://q:6334", "--shards", "3", "--replication-factor", "2", "--on-disk"], &env);
    let setup = old.spec.sink.qdrant.expect("a server").setup;
    assert_eq!((setup.shards, setup.replication_factor, setup.on_disk), (Some(3), Some(2), true));
    assert_eq!(index(&["--output", "embeds"], &env).spec.model.output.as_deref(), Some("embeds"));
    let server = index(&["--qdrant", "http://q:6334", "--timeout", "5", "--max-retries", "2"], &env).server;
    let server = server.expect("a server");
    assert_eq!((server.request_timeout, server.max_retries), (Duration::from_secs(5), 2));
    let server = index(&["--qdrant", "http://q:6334", "--qdrant-max-attempts", "4"], &env).server.expect("a server");
    assert_eq!(server.max_retries, 3, "attempts count the first try");
    let both = index(&["--qdrant", "http://q:6334", "--max-retries", "1", "--qdrant-max-attempts", "4"], &env);
    assert_eq!(both.server.expect("a server").max_retries, 3, "the new spelling wins");
}

#[test]
fn a_command_refuses_the_flags_it_does_not_use() {
    for args in [
        &["stats", "--upsert-parallel", "7"][..],
        &["stats", "--upsert-batch", "7"],
        &["search", "q.jpg", "--upsert-batch", "7"],
        &["doctor", "--upsert-parallel", "7"],
        &["verify", "--collection-shards", "2"],
        &["search", "q.jpg", "--fetch-concurrency", "2"],
        &["embed", "q.jpg", "--qdrant", "http://q:6334"],
    ] {
        let error = refusal(args);
        assert_eq!(error.kind(), clap::error::ErrorKind::UnknownArgument, "{args:?}: {error}");
        assert_eq!(error.exit_code(), 2);
    }
    // resume and retry-failed write, so they take the write options, not the collection setup.
    assert!(matches!(parse(&["resume", "--upsert-batch", "7"]), Command::Resume(_)));
    assert_eq!(refusal(&["resume", "--collection-shards", "2"]).kind(), clap::error::ErrorKind::UnknownArgument);
}

#[test]
fn an_unknown_error_class_is_refused_with_the_nearest_one() {
    let error = refusal(&["retry-failed", "--class", "notfound"]);
    assert_eq!(error.kind(), clap::error::ErrorKind::InvalidValue);
    let text = error.to_string();
    assert!(text.contains("--class") && text.contains("'not_found'"), "{text}");
    let Command::RetryFailed(args) = parse(&["retry-failed", "--class", "host_down,sink", "--class", "io"]) else {
        panic!("not retry-failed")
    };
    let names: Vec<&str> = args.classes.iter().map(|class| class.as_str()).collect();
    assert_eq!(names, ["host_down", "sink", "io"]);
}

#[test]
fn no_results_and_weights_out_of_range_are_refused_for_every_part() {
    for k in ["0", "100001"] {
        let error = refusal(&["search", "q.jpg", "-k", k]);
        assert!(error.to_string().contains("--top"), "{error}");
    }
    for flag in ["--text", "--image", "--not", "--not-image"] {
        for weight in ["0", "-1", "1e39", "1e-50", "inf", "NaN", "1e7"] {
            let value = format!("{flag}={weight}:dog");
            let error = refusal(&["search", &value]);
            assert_eq!(error.kind(), clap::error::ErrorKind::ValueValidation, "{flag} {value}");
            assert!(error.to_string().contains(flag), "{flag} {value}: {error}");
        }
    }
    let Command::Search(args) = parse(&["search", "--text", "1e-6:a", "--not", "1e6:b"]) else { panic!("not search") };
    assert_eq!((args.text[0].weight, args.not[0].weight), (1e-6, 1e6));
}

#[test]
fn no_color_and_a_forced_colour() {
    assert!(!Environment::of(&[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")], "/").stderr_colour());
    assert!(Environment::of(&[("CLICOLOR_FORCE", "1")], "/").stderr_colour());
}
