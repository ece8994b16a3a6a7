//! One error type for the whole library. Each variant carries what a user needs to act on it, and maps to
//! the pymilvus error code that Milvus uses for the same situation (see `code`), so Python code that
//! catches `MilvusException` and checks `.code` keeps working.

use std::fmt;
use std::path::PathBuf;

#[derive(Debug)]
pub enum Error {
    /// A collection name that does not exist (pymilvus code 100).
    CollectionNotFound { name: String },
    /// Creating something that exists already (code 1).
    AlreadyExists { what: String },
    /// Bad input from the caller: schema, rows, parameters (code 6 unless `code` says otherwise).
    Invalid { code: i32, message: String },
    /// Bad input that pymilvus itself refuses before it calls a server, with pymilvus's message; raised
    /// in Python as pymilvus's exception class for `check` (code 1, as pymilvus gives them).
    ClientSide { check: ClientCheck, message: String },
    /// A filter expression that does not parse or type-check; `column` is 1-based (code 6).
    Filter {
        message: String,
        column: usize,
        expr: String,
    },
    /// Search or query on a released collection (code 101).
    NotLoaded { name: String },
    /// An index exists already on that field (code 35).
    IndexExists { field: String },
    /// No such index (code 700).
    IndexNotFound { name: String },
    /// The file is not a covec db (or segment) at all.
    NotCovec { path: PathBuf, reason: String },
    /// A covec file written by a newer format version than this build understands.
    NewerVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    /// A covec file whose bytes fail a checksum or a structural check.
    Corrupt { path: PathBuf, reason: String },
    /// /dev/shm (or the configured segment directory) cannot hold the segment.
    ShmFull {
        dir: PathBuf,
        needed: u64,
        available: u64,
    },
    /// A segment or reference file that is not owned by us or is too open; refusing to trust it.
    Untrusted { path: PathBuf, reason: String },
    /// Operating-system error with the path it concerned.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A bug: an invariant did not hold. Reported, never a crash.
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The kinds of check pymilvus makes on the client, each with its own exception class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientCheck {
    /// A bad or unsupported argument (`ParamError`).
    Param,
    /// Rows that do not fit the collection's schema (`DataNotMatchException`).
    DataNotMatch,
    /// An argument of the wrong type (`DataTypeNotMatchException`).
    DataTypeNotMatch,
    /// No primary key, more than one, or one of a type Milvus does not allow (`PrimaryKeyException`).
    PrimaryKey,
}

impl Error {
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::Invalid {
            code: 6,
            message: message.into(),
        }
    }

    pub fn invalid_code(code: i32, message: impl Into<String>) -> Error {
        Error::Invalid {
            code,
            message: message.into(),
        }
    }

    /// Rows that do not fit the collection's schema, as pymilvus's `DataNotMatchException` (the checks
    /// pymilvus makes on the client before it sends rows: missing or unexpected fields, wrong value types).
    pub fn data_not_match(message: impl Into<String>) -> Error {
        Error::ClientSide {
            check: ClientCheck::DataNotMatch,
            message: message.into(),
        }
    }

    /// A bad or unsupported argument, as pymilvus's `ParamError`.
    pub fn param(message: impl Into<String>) -> Error {
        Error::ClientSide {
            check: ClientCheck::Param,
            message: message.into(),
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Error {
        Error::Corrupt {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// The pymilvus error code for this error.
    pub fn code(&self) -> i32 {
        match self {
            Error::CollectionNotFound { .. } => 100,
            Error::Invalid { code, .. } => *code,
            Error::Filter { .. } => 6,
            Error::NotLoaded { .. } => 101,
            Error::IndexExists { .. } => 35,
            Error::IndexNotFound { .. } => 700,
            Error::ClientSide { .. }
            | Error::AlreadyExists { .. }
            | Error::NotCovec { .. }
            | Error::NewerVersion { .. }
            | Error::Corrupt { .. }
            | Error::ShmFull { .. }
            | Error::Untrusted { .. }
            | Error::Io { .. }
            | Error::Internal(_) => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::CollectionNotFound { name } => write!(f, "collection '{name}' does not exist"),
            Error::AlreadyExists { what } => write!(f, "{what} already exists"),
            Error::Invalid { message, .. } | Error::ClientSide { message, .. } => {
                f.write_str(message)
            }
            Error::Filter { message, column, expr } => {
                let caret = " ".repeat(column.saturating_sub(1));
                write!(f, "{message} at column {column}\n  {expr}\n  {caret}^")
            }
            Error::NotLoaded { name } => write!(
                f,
                "Collection '{name}' is in state 'released'; call load() before search/get/query"
            ),
            Error::IndexExists { field } => {
                write!(f, "index already exists for field '{field}'; call drop_index first")
            }
            Error::IndexNotFound { name } => write!(f, "index '{name}' does not exist"),
            Error::NotCovec { path, reason } => {
                write!(f, "{} is not a covec database: {reason}", path.display())
            }
            Error::NewerVersion { path, found, supported } => write!(
                f,
                "{} was written by a newer covec (format version {found}; this build reads up to {supported}); upgrade covec",
                path.display()
            ),
            Error::Corrupt { path, reason } => {
                write!(f, "{} is damaged: {reason}; run `covec verify {}`", path.display(), path.display())
            }
            Error::ShmFull { dir, needed, available } => write!(
                f,
                "{} has {} free but the segment needs {}: enlarge it (docker run --shm-size={}m, or mount -o remount,size=... {}) or set COVEC_SHM_DIR to a larger tmpfs, or COVEC_NO_SHM=1 to map the db file directly",
                dir.display(),
                human_bytes(*available),
                human_bytes(*needed),
                needed.div_ceil(1 << 20) * 2,
                dir.display()
            ),
            Error::Untrusted { path, reason } => {
                write!(f, "refusing to use {}: {reason}", path.display())
            }
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Internal(m) => write!(f, "internal error (a covec bug, please report): {m}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// 1536 -> "1.5 KiB": sizes in error messages people read.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
