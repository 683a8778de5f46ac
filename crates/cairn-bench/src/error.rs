//! The benchmark binary's one error type: a message that says what failed and
//! where, built up with [`Context`] as it travels out.

use std::fmt;

/// What went wrong, in words, with the context it happened in.
#[derive(Debug)]
pub struct BenchError(String);

impl BenchError {
    /// An error with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        BenchError(message.into())
    }
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BenchError {}

/// The result of anything that can fail in a benchmark.
pub type Result<T> = std::result::Result<T, BenchError>;

/// Adds what was being done to an error: `creating /x: permission denied`.
pub trait Context<T> {
    /// Wraps the error with `what`, computed only on failure.
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: fmt::Display> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| BenchError(format!("{}: {e}", what())))
    }
}

/// A driver for `url`, through the facade's registry.
pub async fn connect(url: &str) -> Result<Box<dyn cairn::Driver>> {
    cairn::connect(url)
        .await
        .context(|| format!("connecting to {}", cairn::url::redact(url)))
}
