//! Why a remote object could not be had, in the error classes that `stats` counts and
//! `retry-failed --class` selects, and whether another try may help.

use std::time::Duration;

use crate::item::ErrorClass;
use crate::locator::Location;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct FetchError {
    pub class: ErrorClass,
    pub message: String,
    /// Another try may succeed: a 5xx or 429, a reset, a stall or a time-out.
    pub transient: bool,
    /// What the server asked for with `Retry-After`.
    pub retry_after: Option<Duration>,
    /// The host did not answer: a time-out, or no connection.
    pub unanswered: bool,
    /// The tries made.
    pub tries: u32,
}

impl FetchError {
    /// A final failure.
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        Self { class, message: message.into(), transient: false, retry_after: None, unanswered: false, tries: 1 }
    }

    pub fn transient(class: ErrorClass, message: impl Into<String>) -> Self {
        Self { transient: true, ..Self::new(class, message) }
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        Self { unanswered: true, ..Self::transient(ErrorClass::Timeout, message) }
    }

    /// No connection could be made (refused, unreachable, or it timed out).
    pub fn unreachable(message: impl Into<String>) -> Self {
        Self { unanswered: true, ..Self::transient(ErrorClass::Network, message) }
    }

    /// The failure of an HTTP status: final for what another try cannot change.
    pub fn status(status: u16, retry_after: Option<Duration>) -> Self {
        let reason = http_reason(status);
        match status {
            404 | 410 => Self::new(ErrorClass::NotFound, format!("HTTP {status} {reason}")),
            401 | 403 => Self::new(
                ErrorClass::Denied,
                format!("HTTP {status} {reason}: the credentials or the signature were refused"),
            ),
            429 | 500..=599 => {
                Self { retry_after, ..Self::transient(ErrorClass::Remote, format!("HTTP {status} {reason}")) }
            }
            _ => Self::new(ErrorClass::Remote, format!("HTTP {status} {reason}")),
        }
    }

    /// The message, prefixed with the object it is about (a URL without its query string).
    pub fn at(self, location: &Location) -> Self {
        Self { message: format!("{location}: {}", self.message), ..self }
    }

    /// After the last try: says how many there were.
    pub fn after_tries(self, tries: u32) -> Self {
        if tries > 1 && self.transient {
            Self { message: format!("{} (after {tries} tries)", self.message), tries, ..self }
        } else {
            Self { tries, ..self }
        }
    }
}

fn http_reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_that_another_try_cannot_change_are_final() {
        for (status, class, transient) in [
            (404, ErrorClass::NotFound, false),
            (410, ErrorClass::NotFound, false),
            (403, ErrorClass::Denied, false),
            (401, ErrorClass::Denied, false),
            (400, ErrorClass::Remote, false),
            (429, ErrorClass::Remote, true),
            (503, ErrorClass::Remote, true),
        ] {
            let error = FetchError::status(status, None);
            assert_eq!((error.class, error.transient), (class, transient), "{status}");
        }
    }

    #[test]
    fn signatures_are_cut_from_messages() {
        let text = "error sending request for url (http://h/a.jpg?X-Amz-Signature=secret): reset";
        assert_eq!(crate::locator::redacted(text), "error sending request for url (http://h/a.jpg): reset");
    }
}
