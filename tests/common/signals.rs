//! Signals to a running `imbed`, and holding it stopped mid-run.

/// Sends `signal` to a child of this test.
pub fn signal(child: &std::process::Child, signal: libc::c_int) {
    // SAFETY: signalling our own child, which has not been reaped.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0, "kill({signal})");
}

/// Lets a run go on in short slices, stopped (SIGSTOP) between them, until `reached` holds
/// while it is stopped, and returns with the run still stopped. Whatever the test does next (a
/// kill, a signal that waits for SIGCONT) lands mid-run however fast the machine is: the run
/// cannot finish between two looks.
pub fn stop_when(child: &mut std::process::Child, what: &str, mut reached: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        std::thread::sleep(std::time::Duration::from_millis(20));
        signal(child, libc::SIGSTOP);
        wait_until_stopped(child);
        if reached() {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "not within two minutes: {what}");
        signal(child, libc::SIGCONT);
    }
}

/// Until a SIGSTOP has taken hold: the child's state in /proc is `T`.
fn wait_until_stopped(child: &mut std::process::Child) {
    let stat = format!("/proc/{}/stat", child.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
            }
            panic!("the run ended ({status}) before it could be interrupted: {stderr}");
        }
        let text = std::fs::read_to_string(&stat).unwrap_or_default();
        let state = text.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next());
        if state == Some('T') {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "the run did not stop on SIGSTOP: {text}");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}
