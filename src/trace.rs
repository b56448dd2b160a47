//! Optional instrumentation with `tracing` (feature `tracing`).
//!
//! Without the feature the macros expand to nothing: no code, no cost. With it, each S3 request is a
//! span and retries, clock corrections, R2 refusals and credential refreshes are events; when no
//! subscriber listens, each costs a check of an atomic. Presigning is not instrumented: it is pure
//! computation on a hot path, and a URL's query (its signature) must never reach a log anyway.
//!
//! Fields never carry a secret, a session token, a signature or a presigned query; object keys are
//! left out too (they are users' file names).

/// An event at `$level` (`trace`, `debug`, `info`, `warn`, `error`), as `tracing::event!` takes it.
#[cfg(feature = "tracing")]
macro_rules! event {
    ($level:ident, $($arg:tt)+) => {
        ::tracing::$level!(target: "stowage", $($arg)+)
    };
}

#[cfg(not(feature = "tracing"))]
macro_rules! event {
    ($level:ident, $($arg:tt)+) => {};
}

pub(crate) use event;
