//! The core's error type: one clear cause, and a hint of what to do next.

use crate::cluster::ClusterError;
use crate::config::ConfigError;
use crate::connect::ConnectError;
use crate::names::NameError;
use crate::sql::TemplateError;

/// Everything the core can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Name(#[from] NameError),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("{during}: {}", describe_db_error(.source))]
    Db {
        during: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("read-only session: {action} would change the database")]
    ReadOnly { action: String },
    #[error("the database is not bootstrapped: {0}")]
    NotBootstrapped(String),
    #[error("{0}")]
    Conflict(String),
    #[error("tenant {0:?} is not in the registry")]
    NoSuchTenant(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Cancelled(String),
    /// A long job that was cancelled or partly failed: never a success.
    #[error("{0}")]
    Incomplete(String),
    #[error("{done}, but reading it back failed: {cause}")]
    Committed { done: String, cause: Box<Error> },
    #[error("{error} (the failure could not be written to the console log: {log_error})")]
    Unlogged {
        error: Box<Error>,
        log_error: String,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

/// Short for results of the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps a database error with the step it happened in.
    pub fn db(during: impl Into<String>) -> impl FnOnce(sqlx::Error) -> Error {
        let during = during.into();
        move |source| Error::Db { during, source }
    }

    /// True when the link to the server died (reconnect rather than just report); a write
    /// whose failure could not be logged, or whose read-back failed after the commit, is
    /// judged by the inner error.
    pub fn is_connection_lost(&self) -> bool {
        match self {
            Error::Connect(_) => true,
            Error::Unlogged { error, .. } => error.is_connection_lost(),
            Error::Committed { cause, .. } => cause.is_connection_lost(),
            Error::Db { source, .. } => {
                matches!(
                    source,
                    sqlx::Error::Io(_)
                        | sqlx::Error::PoolTimedOut
                        | sqlx::Error::PoolClosed
                        | sqlx::Error::WorkerCrashed
                ) || sqlstate(source).is_some_and(|code| {
                    // Connection exceptions, and the server shutting down or starting up.
                    code.starts_with("08") || matches!(code.as_str(), "57P01" | "57P02" | "57P03")
                })
            }
            _ => false,
        }
    }

    /// What the user should do next, if we can say.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Config(_) => {
                Some("fix the file, or point --config / TENANTCTL_CONFIG elsewhere".into())
            }
            Error::Connect(e) => Some(e.hint().into()),
            Error::Name(NameError::BadTenantId { .. }) => None,
            Error::Name(NameError::BadPolicy(_)) => Some("fix [naming] in the config file".into()),
            Error::Cluster(e) => Some(e.hint().into()),
            Error::Template(_) => Some("this is a bug in tenantctl; please report it".into()),
            Error::Db { source, .. } => db_hint(source),
            Error::ReadOnly { .. } => Some(
                "run without --read-only (and without read_only in the profile) to make changes"
                    .into(),
            ),
            Error::NotBootstrapped(_) => {
                Some("run `tenantctl init` on this database first, as a superuser".into())
            }
            Error::NoSuchTenant(_) => Some("`tenantctl tenant list` shows the registry".into()),
            Error::Unlogged { error, .. } => error.hint(),
            Error::Committed { .. } => Some("the change itself was made and logged; `tenantctl tenant show ID` shows it once the server answers".into()),
            Error::Conflict(_)
            | Error::Invalid(_)
            | Error::Cancelled(_)
            | Error::Incomplete(_)
            | Error::Io { .. } => None,
        }
    }
}

/// The SQLSTATE of a database error, if it is one.
pub fn sqlstate(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
        _ => None,
    }
}

fn describe_db_error(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => {
            let mut s = db.message().to_string();
            if let Some(code) = db.code() {
                s.push_str(&format!(" (SQLSTATE {code})"));
            }
            s
        }
        sqlx::Error::Io(io) => format!("connection lost ({io})"),
        sqlx::Error::PoolTimedOut => "no connection could be had in time (pool timed out)".into(),
        other => other.to_string(),
    }
}

fn db_hint(e: &sqlx::Error) -> Option<String> {
    match sqlstate(e).as_deref() {
        Some("55P03") => Some("another session holds a lock on it; retry later, or raise lock_timeout_secs in the config".into()),
        Some("25006") => Some("the session is read-only".into()),
        Some("42501") => Some("the connected role lacks a privilege; connect as the admin role or a superuser".into()),
        Some("57014") => Some("the statement was cancelled".into()),
        _ if matches!(e, sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut) => {
            Some("check that the server is up; nothing was committed by the failed step".into())
        }
        _ => None,
    }
}
