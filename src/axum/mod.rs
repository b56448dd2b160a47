//! Drop-in upload endpoints for an axum service (feature `axum`): presigned single and multipart
//! uploads under an [`UploadPolicy`], completion with verification (and promotion out of
//! quarantine), the person behind each upload, the app told of what was stored, and the endpoints
//! Uppy's AWS S3 plugin calls — what `@uppy/companion` is to Node, for services that run as several
//! instances, restart on every deploy and serve many people.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use axum::http::request::Parts;
//! use stowage::axum::{IdentityRefusal, Secret, StoredUpload, Uploader, Uploads};
//! use stowage::constraints::UploadPolicy;
//!
//! let storage = Arc::new(stowage::S3Config::from_env()?.build().await?);
//! let policy = UploadPolicy::new("uploads/")
//!     .with_staging_prefix("staging/")
//!     .allow_type("image/*")?
//!     .with_max_size(5 << 30);
//! let uploads = Uploads::new(storage, policy)
//!     // Shared by every instance: tickets live in the bucket, signed with it.
//!     .with_secret(Secret::new(std::env::var("UPLOAD_SECRET")?)?)
//!     // Who uploads (here: the user id an auth middleware put in the extensions).
//!     .with_identity(|parts: Parts| async move {
//!         match parts.extensions.get::<u64>() {
//!             Some(id) => Uploader::new(id.to_string()).map_err(|_| IdentityRefusal::forbidden("No uploads for you.")),
//!             None => Err(IdentityRefusal::unauthorized("Sign in to upload files.")),
//!         }
//!     })
//!     // What was stored: record it, and say what to add to the reply.
//!     .with_on_complete(|upload: StoredUpload| async move {
//!         // INSERT INTO files (key, owner, name, size) … ON CONFLICT (key) DO NOTHING
//!         Ok(serde_json::json!({ "file_id": upload.key }))
//!     });
//! let app = axum::Router::new().nest("/api", uploads.router());
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
//!
//! | route | what |
//! |---|---|
//! | `POST /uploads` `{filename, content_type, size, checksum?}` | a presigned PUT: `{key, method, url, headers, expires_at}` (the `checksum`, `{"algorithm": "SHA256", "value": "<base64>"}`, signed as a header) |
//! | `POST /uploads/multipart` `{filename, content_type, size, part_checksums?}` | a multipart upload: `{key, upload_id, part_size, part_count, size, part_checksums}` |
//! | `POST /uploads/multipart/parts` `{key, upload_id, part_numbers, checksums?}` | presigned part URLs, each signing its part's size (and its checksum, base64 by part number): `{parts: [{part_number, url, headers}]}` |
//! | `GET /uploads/multipart/parts?key=&upload_id=` | the parts stored so far, to resume: `{parts: [{part_number, size, etag, checksum}]}` |
//! | `POST /uploads/complete` `{key, upload_id?, parts?}` | verify, promote, record: `{key, filename, size, content_type, checksum?, variants?, …the hook's fields}` (`variants`, with [`Uploads::with_images`]: `[{name, key, content_type, size, width, height}]`) |
//! | `DELETE /uploads?key=` | cancel a single upload (one whose PUT failed): nothing kept |
//! | `DELETE /uploads/multipart?key=&upload_id=` | cancel: abort, nothing kept |
//! | `POST /s3/multipart`, `GET /s3/multipart/{uploadId}/{partNumber}`, `GET …/batch`, `GET /s3/multipart/{uploadId}`, `POST …/complete`, `DELETE /s3/multipart/{uploadId}`, `GET /s3/params` | Uppy's AWS S3 plugin, unchanged (each with `?key=`) |
//!
//! ## Instances, restarts, people
//!
//! - **Tickets** (what the server remembers of an upload between requests) are kept in the bucket,
//!   signed with the [`Secret`] every instance shares ([`BucketTickets`]): any instance serves any
//!   request of an upload, a restart loses none, and a ticket forged, altered or past its lifetime
//!   (a day by default) is refused. A database of yours can keep them instead ([`TicketStore`]);
//!   [`MemoryTickets`] is for tests (one process).
//! - **The person** behind each request is the identity hook's answer ([`Identify`]); without one,
//!   everyone is [`Uploader::anonymous`]. Each ticket records its owner, and for anyone else every
//!   later call about that upload (listing, signing, completing, cancelling, every Uppy route) is
//!   answered exactly as for an upload that does not exist. An uploader's files go under
//!   `<prefix><owner>/` (or a key prefix of their own), so one person's files are one listing. A
//!   person may have at most 20 uploads in progress by default ([`Uploads::with_max_in_progress`]);
//!   one more is a 429 with a sentence.
//! - **The app** learns what was stored through the completion hook ([`OnComplete`]), whose answer is
//!   merged into the reply; [`OnComplete`] says what is guaranteed when it fails.
//!
//! Errors are JSON, `{"error": "<a sentence for the person uploading>", "status": <code>}`, with that
//! status: 401/403 from the identity hook, 404 for an upload that is not (or not yours) in progress,
//! 4xx for what the client sent (a refused type, a part outside the plan, parts missing or forged),
//! 429 past the cap, 502 when the storage fails, 503 when the file was stored but the hook failed.
//!
//! Uppy's single uploads (`/s3/params`, a presigned POST nothing completes) are refused under
//! quarantine and on R2: configure Uppy with `shouldUseMultipart: () => true`. Its multipart uploads
//! work with Uppy configured as its documentation shows (no size needed; see [`PartLayout`] for
//! what is proven then).
//!
//! [`PartLayout`]: crate::constraints::PartLayout

mod flow;
mod hooks;
mod identity;
mod json_api;
mod refusal;
mod secret;
mod tickets;
mod uppy;

use std::sync::Arc;
use std::time::Duration;

use ::axum::Router;

pub use hooks::{HookFailure, OnComplete, StoredUpload};
pub use identity::{Identify, IdentityRefusal, InvalidOwner, OwnerId, Uploader};
pub use secret::{MIN_SECRET_BYTES, Secret, WeakSecret};
pub use tickets::{BucketTickets, MemoryTickets, PendingUpload, StoredTicket, TicketStore};

use crate::constraints::{UploadPolicy, VerifyOptions};
use crate::storage::Storage;
use flow::Endpoints;

/// The cap on one person's uploads in progress, by default.
pub const DEFAULT_MAX_IN_PROGRESS: u32 = 20;

/// The upload endpoints for a storage and a policy, configured with `with_*` and turned into a
/// router with [`router`](Self::router). See the module docs for what each setting does.
#[must_use]
pub struct Uploads {
    storage: Arc<dyn Storage>,
    policy: UploadPolicy,
    secret: Option<Secret>,
    tickets: Option<Arc<dyn TicketStore>>,
    identify: Arc<dyn Identify>,
    identity_timeout: Duration,
    on_complete: Option<Arc<dyn OnComplete>>,
    verify: VerifyOptions,
    max_in_progress: u32,
    ticket_lifetime: Duration,
    #[cfg(feature = "images")]
    images: Option<crate::images::ImagePolicy>,
}

impl Uploads {
    /// Endpoints for `storage` under `policy`: everyone anonymous, tickets in the bucket signed with
    /// a secret made for this process (set one with [`with_secret`](Self::with_secret) for several
    /// instances and restarts), verification with content sniffing when the `sniff` feature is on.
    pub fn new(storage: Arc<dyn Storage>, policy: UploadPolicy) -> Self {
        let verify = VerifyOptions::new().with_delete_on_mismatch(true);
        #[cfg(feature = "sniff")]
        let verify = verify.with_sniff(true);
        Self {
            storage,
            policy,
            secret: None,
            tickets: None,
            identify: Arc::new(identity::Anonymous),
            identity_timeout: Duration::from_secs(5),
            on_complete: None,
            verify,
            max_in_progress: DEFAULT_MAX_IN_PROGRESS,
            ticket_lifetime: Duration::from_secs(24 * 3600),
            #[cfg(feature = "images")]
            images: None,
        }
    }

    /// The secret every instance shares: tickets are kept in the bucket and signed with it, so that
    /// any instance serves any request of an upload and a restart loses none.
    pub fn with_secret(mut self, secret: Secret) -> Self {
        self.secret = Some(secret);
        self
    }

    /// Another ticket store than the bucket (a database of yours, or [`MemoryTickets`] in tests).
    pub fn with_tickets(mut self, tickets: impl TicketStore) -> Self {
        self.tickets = Some(Arc::new(tickets));
        self
    }

    /// The app's identity hook (default: everyone is [`Uploader::anonymous`]).
    pub fn with_identity(mut self, identify: impl Identify) -> Self {
        self.identify = Arc::new(identify);
        self
    }

    /// How long the identity hook may take before the request is refused (default 5 s).
    pub fn with_identity_timeout(mut self, timeout: Duration) -> Self {
        self.identity_timeout = timeout;
        self
    }

    /// The app's completion hook (default: none).
    pub fn with_on_complete(mut self, hook: impl OnComplete) -> Self {
        self.on_complete = Some(Arc::new(hook));
        self
    }

    /// How uploads are verified (default: size, type, and with `sniff` the first bytes; a mismatch
    /// deleted).
    pub fn with_verify(mut self, verify: VerifyOptions) -> Self {
        self.verify = verify;
        self
    }

    /// The most uploads one person may have in progress (default [`DEFAULT_MAX_IN_PROGRESS`]).
    /// Counting them costs one listing of the person's tickets per new upload (see the README's
    /// "Deploying" for the figures); `u32::MAX` means no cap, and no listing.
    pub fn with_max_in_progress(mut self, uploads: u32) -> Self {
        self.max_in_progress = uploads;
        self
    }

    /// How long a ticket is accepted after its upload was created (default a day, the staging
    /// lifecycle's).
    pub fn with_ticket_lifetime(mut self, lifetime: Duration) -> Self {
        self.ticket_lifetime = lifetime;
        self
    }

    /// Images made clean at completion (feature `images`): an upload of a type the pipeline handles
    /// (JPEG, PNG, GIF, WebP) is promoted as its sanitised form with the policy's variants beside it
    /// (see [`crate::images`]); the reply and [`StoredUpload::variants`] list them. An image larger
    /// than the policy's [`max_bytes`](crate::images::ImagePolicy::max_bytes) is refused when its
    /// upload is asked for, and Uppy's single uploads (which nothing completes) are refused for
    /// images. This is added to whatever [`with_verify`](Self::with_verify) sets, in either order.
    #[cfg(feature = "images")]
    pub fn with_images(mut self, images: crate::images::ImagePolicy) -> Self {
        self.images = Some(images);
        self
    }

    /// The endpoints, to mount with `Router::nest`.
    pub fn router(self) -> Router {
        let tickets = self.tickets.unwrap_or_else(|| {
            let prefix = match self.policy.staging_prefix() {
                Some(staging) => format!("{staging}.tickets/"),
                None => ".stowage-tickets/".to_owned(),
            };
            let secret = self.secret.unwrap_or_else(Secret::random);
            Arc::new(BucketTickets::new(Arc::clone(&self.storage), prefix, secret).with_lifetime(self.ticket_lifetime))
        });
        #[cfg(feature = "images")]
        let verify = match self.images {
            Some(images) => self.verify.with_images(images),
            None => self.verify,
        };
        #[cfg(not(feature = "images"))]
        let verify = self.verify;
        let shared = Arc::new(Endpoints {
            storage: self.storage,
            policy: self.policy,
            tickets,
            verify,
            identify: self.identify,
            identity_timeout: self.identity_timeout,
            on_complete: self.on_complete,
            max_in_progress: self.max_in_progress,
            ticket_lifetime: self.ticket_lifetime,
        });
        json_api::routes().merge(uppy::routes()).with_state(shared)
    }
}

impl std::fmt::Debug for Uploads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uploads")
            .field("storage", &self.storage)
            .field("policy", &self.policy)
            .field("secret", &self.secret)
            .field("max_in_progress", &self.max_in_progress)
            .finish_non_exhaustive()
    }
}
