//! Tries again what failed for a reason that may pass: one loop and one backoff for the
//! remote stores and the Qdrant server. Kept apart from `util`, which the fuzz target
//! compiles without an async runtime.

use std::time::Duration;

/// The pause before retry `attempt` (1 for the first): exponential from 100 ms, at most 10 s,
/// with full jitter, so that many requests failing together do not retry together.
pub fn backoff(attempt: u32) -> Duration {
    let ceiling = Duration::from_millis(100).saturating_mul(1 << attempt.min(7)).min(Duration::from_secs(10));
    ceiling.mul_f64(0.5 + fastrand::f64() / 2.0)
}

/// Runs `operation` until it succeeds or `pause` (given the retry's number, from 1, and the
/// error) gives no pause before another try. The error comes back with the tries made.
pub async fn retrying<T, E, F, Fut>(
    mut operation: F,
    mut pause: impl FnMut(u32, &E) -> Option<Duration>,
) -> Result<T, (E, u32)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let mut tries = 1;
    loop {
        match operation().await {
            Ok(value) => return Ok(value),
            Err(error) => match pause(tries, &error) {
                Some(delay) => {
                    tokio::time::sleep(delay).await;
                    tries += 1;
                }
                None => return Err((error, tries)),
            },
        }
    }
}
