//! The library's error type. Every input error names the file, and the line or byte offset
//! where one is known, so that a user can find the record.

use std::path::PathBuf;

/// A library error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or folder could not be read.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause, in the message (not as a `source`, which would print it twice in a chain).
        cause: std::io::Error,
    },
    /// A file matched no input format.
    #[error("{path}: not a recognized input (tried {tried}); it begins with: {head}")]
    UnknownFormat {
        /// The file.
        path: PathBuf,
        /// The formats tried.
        tried: String,
        /// The first line (or bytes) of the file, escaped.
        head: String,
    },
    /// A file of a known format could not be parsed.
    #[error("{path}: {format}: {location}{message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The format it was read as.
        format: &'static str,
        /// `line N: ` or `byte N: `, or empty.
        location: String,
        /// What was wrong.
        message: String,
    },
    /// A file was read but held no usable record.
    #[error("{path}: no usable record in this {format} file{detail}")]
    Empty {
        /// The file.
        path: PathBuf,
        /// The format it was read as.
        format: &'static str,
        /// Why, when records were skipped.
        detail: String,
    },
}

/// The library's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            cause,
        }
    }
}
