//! Killed and interrupted runs: SIGKILL at random moments, SIGTERM, SIGINT, a second Ctrl-C.

use std::time::Duration;

use crate::common::{signal, tiny_model, Workspace};
use crate::{
    assert_complete, corpus, embedded_count, index_args, index_args_with_batch, seed, spawn, spawn_mid_run, stats,
    wait_for, Moments, BATCH, CORPUS, IN_FLIGHT_BATCHES,
};

#[test]
fn sigkill_at_random_moments_then_resume_stores_every_item_exactly_once() {
    let ws = Workspace::new();
    let expected = corpus(&ws, "photos", CORPUS);
    let log = ws.path().join("embedded.log");
    let mut moments = Moments(seed());
    let mut kills = 0;
    let mut args = index_args(&tiny_model());
    loop {
        // The first kill lands once something is stored, however fast this machine runs the
        // corpus (the run is held stopped there); the later ones at random moments, which may
        // also be after the end.
        let (mut child, alive_for) = if kills == 0 {
            (spawn_mid_run(&ws, &args, &log), Duration::ZERO)
        } else {
            (spawn(&ws, &args, &log), Duration::from_millis(moments.next_millis(50, 1200)))
        };
        match wait_for(&mut child, alive_for) {
            Some(status) => {
                assert!(status.success(), "the last run completes: {status:?}");
                break;
            }
            None => {
                child.kill().expect("SIGKILL");
                child.wait().expect("reap");
                kills += 1;
            }
        }
        assert!(kills < 40, "the run never completed");
        args = ["resume", "--quiet"].map(String::from).to_vec();
    }
    assert_complete(&ws, &expected);
    let embedded = embedded_count(&log);
    // A kill can only cost the batches between the model and the checkpoint: 2 written but
    // not yet committed, 2 in the channel, and 1 embedded and waiting to be sent.
    let bound = CORPUS + kills * IN_FLIGHT_BATCHES * BATCH;
    eprintln!("kills: {kills}, items embedded: {embedded} for {CORPUS} items (bound {bound})");
    assert!(kills >= 1, "the test must kill at least once");
    assert!(embedded <= bound, "embedded {embedded} > {bound}");
}

fn interrupt_and_resume(which: libc::c_int) {
    let ws = Workspace::new();
    let count = CORPUS;
    let expected = corpus(&ws, "photos", count);
    let log = ws.path().join("embedded.log");
    let args = index_args(&tiny_model());
    let child = spawn_mid_run(&ws, &args, &log);
    // The signal waits while the run is stopped, and arrives as it goes on.
    signal(&child, which);
    signal(&child, libc::SIGCONT);
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("imbed resume --checkpoint imbed.checkpoint"), "{stderr}");
    let partial = stats(&ws);
    assert!(partial["items"]["pending"].as_u64().expect("pending") > 0, "{partial}");
    assert_eq!(partial["runs"][0]["state"], "interrupted", "{partial}");

    ws.imbed().env("IMBED_DEBUG_EMBED_LOG", &log).args(["resume", "--quiet"]).assert().success();
    assert_complete(&ws, &expected);
    let embedded = embedded_count(&log);
    eprintln!("signal {which}: items embedded: {embedded} for {count} items");
    assert!((count..=count + IN_FLIGHT_BATCHES * BATCH).contains(&embedded), "{embedded}");
}

#[test]
fn sigterm_stops_with_130_and_a_resume_hint() {
    interrupt_and_resume(libc::SIGTERM);
}

#[test]
fn sigint_stops_with_130_and_a_resume_hint() {
    interrupt_and_resume(libc::SIGINT);
}

#[test]
fn a_second_ctrl_c_exits_at_once() {
    let ws = Workspace::new();
    corpus(&ws, "photos", CORPUS);
    let log = ws.path().join("embedded.log");
    let args = index_args_with_batch(&tiny_model(), 1);
    let mut child = spawn_mid_run(&ws, &args, &log);
    signal(&child, libc::SIGINT);
    signal(&child, libc::SIGCONT);
    std::thread::sleep(Duration::from_millis(5));
    signal(&child, libc::SIGINT);
    let status = wait_for(&mut child, Duration::from_secs(2)).expect("exits at once");
    assert_eq!(status.code(), Some(130));
    // Even that is safe: the checkpoint is consistent and the run resumes.
    ws.imbed().args(["resume", "--quiet"]).assert().success();
    assert_eq!(stats(&ws)["items"]["done"], CORPUS);
}
