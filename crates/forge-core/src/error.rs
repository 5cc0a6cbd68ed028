//! The one error type of a build: a message a person can act on, or the mark of a cancelled run.

use std::fmt;

/// A build error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Something failed; the text says what, and where.
    Msg(String),
    /// The run was interrupted; not a failure of the build itself.
    Cancelled,
}

/// Result of build work.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error with this message.
    pub fn msg(m: impl Into<String>) -> Error {
        Error::Msg(m.into())
    }

    /// Whether this is the cancellation mark.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Error::Cancelled)
    }

    /// Prefixes the message with what was being done (`"creating output: " + msg`).
    pub fn context(self, what: impl fmt::Display) -> Error {
        match self {
            Error::Msg(m) => Error::Msg(format!("{what}: {m}")),
            c => c,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Msg(m) => f.write_str(m),
            Error::Cancelled => f.write_str("Build was cancelled."),
        }
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(m: String) -> Error {
        Error::Msg(m)
    }
}

impl From<&str> for Error {
    fn from(m: &str) -> Error {
        Error::Msg(m.to_string())
    }
}

/// Adds what was being done to an I/O (or any displayable) error.
pub trait Context<T> {
    /// `Err(e)` becomes `Err("<what>: <e>")`.
    fn ctx(self, what: impl fmt::Display) -> Result<T>;
}

impl<T, E: fmt::Display> Context<T> for std::result::Result<T, E> {
    fn ctx(self, what: impl fmt::Display) -> Result<T> {
        self.map_err(|e| Error::Msg(format!("{what}: {e}")))
    }
}
