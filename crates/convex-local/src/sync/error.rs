//! Why a sync session ended, and what the client is told.

/// A session's end. Protocol and auth errors are told to the client (as
/// `FatalError` or `AuthError`) before the socket closes; socket errors
/// just close it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SyncError {
    /// A text frame that is not a client message (or a binary frame).
    #[error("Invalid client message: {0}")]
    BadMessage(String),
    /// `ModifyQuerySet` from a version the server does not hold.
    #[error("Base version {base} passed up doesn't match the current version {current}")]
    QuerySetVersion {
        /// What the client said it held.
        base: u32,
        /// What the server holds.
        current: u32,
    },
    /// `ModifyQuerySet` whose new version is not above its base.
    #[error("New query set version {new} must be greater than the base version {base}")]
    QuerySetNotIncreasing {
        /// The base version.
        base: u32,
        /// The new version.
        new: u32,
    },
    /// `Add` of a query id already in the set.
    #[error("Query {0} is already in the query set")]
    DuplicateQuery(u32),
    /// `Remove` of a query id not in the set.
    #[error("Query {0} is not in the query set")]
    UnknownQuery(u32),
    /// `Authenticate` from an identity version the server does not hold.
    #[error("Identity base version {base} doesn't match the current version {current}")]
    IdentityVersion {
        /// What the client said it held.
        base: u32,
        /// What the server holds.
        current: u32,
    },
    /// `Authenticate` with a token that does not verify: Convex's
    /// `AuthError` with `authUpdateAttempted: true`.
    #[error("{0}")]
    AuthUpdateFailed(String),
    /// The identity the session held stopped verifying (its token
    /// expired): `AuthError` with `authUpdateAttempted: false`.
    #[error("{0}")]
    AuthExpired(String),
    /// The client sent nothing for too long.
    #[error("client sent nothing for {0} s")]
    ClientTimeout(u64),
    /// The socket failed or was closed under us.
    #[error("socket: {0}")]
    Socket(String),
    /// A bug or a storage failure: logged, the client only sees the close.
    #[error("internal: {0}")]
    Internal(String),
}

impl SyncError {
    /// The error for a log line. A client message that failed to parse is
    /// not quoted: parse errors can echo the message's values, tokens among them.
    pub(crate) fn for_log(&self) -> String {
        match self {
            SyncError::BadMessage(_) => "invalid client message".into(),
            other => other.to_string(),
        }
    }
}
