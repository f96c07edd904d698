//! Service errors: what went wrong in terms a caller can act on.

use crate::domain::ValidationErrors;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Invalid(ValidationErrors),
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The database cannot be written right now (read-only, disk full, locked too long).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => Error::Unavailable(m),
            other => Error::Internal(other.to_string()),
        }
    }
}

impl From<ValidationErrors> for Error {
    fn from(e: ValidationErrors) -> Self {
        Error::Invalid(e)
    }
}

impl Error {
    pub fn invalid(attr: &str, message: &str) -> Self {
        Error::Invalid(ValidationErrors::single(attr, message))
    }
}
