//! Where the upload endpoints keep their tickets between a browser's requests.
//!
//! **Why in the bucket.** An upload spans several requests (create, sign parts, complete), which a
//! load balancer spreads over instances, and outlives deploys. The bucket is already the store every
//! instance shares, and S3 (like R2, Garage and s3s-fs) reads its own writes: a ticket written by one
//! instance is read by the next at once. So by default ([`BucketTickets`]) a ticket is a small object
//! under the staging prefix — the lifecycle rule that expires staging cleans up abandoned ones — and
//! it is signed with the service's [`Secret`]: a ticket forged, altered (by anyone who can write the
//! bucket) or past its expiry is refused. Its path holds the owner, so one person's tickets are one
//! listing (the cap on uploads in progress) and a lookup by someone else finds nothing. A ticket
//! costs one PUT when the upload is created, one GET per later request, one DELETE when it is done;
//! the README's "Deploying" section has the figures.
//!
//! A service that prefers its database implements [`TicketStore`]; [`MemoryTickets`] keeps them in
//! one process, for tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::Digest;
use time::OffsetDateTime;

use super::{OwnerId, Secret};
use crate::constraints::{MultipartTicket, UploadTicket};
use crate::{Body, GetOptions, ListOptions, PutOptions, Result, Storage};

/// An upload the endpoints issued and have not finished with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum PendingUpload {
    /// One presigned PUT (or POST).
    Single(UploadTicket),
    /// A presigned multipart upload.
    Multipart(MultipartTicket),
}

impl PendingUpload {
    /// The key the client names the upload by: where it uploads a single file, the final key of a
    /// multipart upload.
    #[must_use]
    pub fn key(&self) -> &str {
        match self {
            Self::Single(ticket) => &ticket.upload_key,
            Self::Multipart(ticket) => &ticket.final_key,
        }
    }
}

/// A ticket as a store keeps it: the upload, whose it is, and until when it may be used.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct StoredTicket {
    /// Who the upload belongs to.
    pub owner: OwnerId,
    /// When the ticket stops being accepted.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// The upload.
    pub upload: PendingUpload,
}

impl StoredTicket {
    /// `upload`, owned by `owner`, accepted until `expires_at`.
    #[must_use]
    pub fn new(owner: OwnerId, upload: PendingUpload, expires_at: OffsetDateTime) -> Self {
        Self { owner, expires_at, upload }
    }

    /// The key the client names the upload by.
    #[must_use]
    pub fn key(&self) -> &str {
        self.upload.key()
    }

    /// Whether the ticket may still be used.
    #[must_use]
    pub fn is_live(&self) -> bool {
        OffsetDateTime::now_utc() < self.expires_at
    }
}

/// Keeps tickets between requests, for any instance of the service. Lookups are by owner and key: a
/// store never hands one person's ticket to another.
#[async_trait::async_trait]
pub trait TicketStore: Send + Sync + 'static {
    /// Keeps `ticket` under its owner and key (replacing one there).
    ///
    /// # Errors
    ///
    /// The store's own.
    async fn save(&self, ticket: &StoredTicket) -> Result<()>;

    /// The live ticket of `owner` under `key`, if there is one (a forged, altered or expired one is
    /// none).
    ///
    /// # Errors
    ///
    /// The store's own.
    async fn find(&self, owner: &OwnerId, key: &str) -> Result<Option<StoredTicket>>;

    /// Forgets the ticket of `owner` under `key` (done or cancelled). Forgetting none succeeds.
    ///
    /// # Errors
    ///
    /// The store's own.
    async fn remove(&self, owner: &OwnerId, key: &str) -> Result<()>;

    /// How many live tickets `owner` has: their uploads in progress.
    ///
    /// # Errors
    ///
    /// The store's own.
    async fn in_progress(&self, owner: &OwnerId) -> Result<usize>;
}

/// Tickets in this process's memory: for tests and single-process tools. Several instances (or a
/// restart) do not see each other's tickets — use [`BucketTickets`] or a database there.
#[derive(Debug, Default)]
pub struct MemoryTickets {
    /// Each owner's tickets, by key.
    owners: Mutex<HashMap<OwnerId, HashMap<String, StoredTicket>>>,
}

type Owners = HashMap<OwnerId, HashMap<String, StoredTicket>>;

impl MemoryTickets {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn locked(&self) -> std::sync::MutexGuard<'_, Owners> {
        self.owners.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait::async_trait]
impl TicketStore for MemoryTickets {
    async fn save(&self, ticket: &StoredTicket) -> Result<()> {
        let mut owners = self.locked();
        let theirs = owners.entry(ticket.owner.clone()).or_default();
        theirs.retain(|_, t| t.is_live());
        theirs.insert(ticket.key().to_owned(), ticket.clone());
        Ok(())
    }

    async fn find(&self, owner: &OwnerId, key: &str) -> Result<Option<StoredTicket>> {
        Ok(self.locked().get(owner).and_then(|theirs| theirs.get(key)).filter(|t| t.is_live()).cloned())
    }

    async fn remove(&self, owner: &OwnerId, key: &str) -> Result<()> {
        let mut owners = self.locked();
        if let Some(theirs) = owners.get_mut(owner) {
            theirs.remove(key);
            if theirs.is_empty() {
                owners.remove(owner);
            }
        }
        Ok(())
    }

    async fn in_progress(&self, owner: &OwnerId) -> Result<usize> {
        Ok(self.locked().get(owner).map_or(0, |theirs| theirs.values().filter(|t| t.is_live()).count()))
    }
}

/// Tickets kept in the bucket itself, signed with the service's secret (see the module docs): what
/// lets any instance serve any request of an upload, and a restart lose none.
///
/// A ticket is the object `<prefix><owner>/<hash of the key>`, holding the HMAC-SHA256 of its JSON,
/// a line break, and the JSON. Its presigned URL is not kept.
#[derive(Debug, Clone)]
pub struct BucketTickets {
    storage: Arc<dyn Storage>,
    prefix: String,
    secret: Secret,
    lifetime: Duration,
}

impl BucketTickets {
    /// Tickets under `prefix` (such as `staging/.tickets/`) in `storage`'s bucket, signed with
    /// `secret`, counted as in progress for `lifetime` after they were written (the tickets'
    /// lifetime: a day by default).
    pub fn new(storage: Arc<dyn Storage>, prefix: impl Into<String>, secret: Secret) -> Self {
        Self { storage, prefix: prefix.into(), secret, lifetime: Duration::from_secs(24 * 3600) }
    }

    /// How long after it was written a ticket counts as in progress.
    #[must_use]
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// The object that holds the ticket of `owner` under `key`.
    fn object_key(&self, owner: &OwnerId, key: &str) -> String {
        let hash = hex::encode(sha2::Sha256::digest(key.as_bytes()));
        format!("{}{owner}/{}", self.prefix, &hash[..32])
    }

    /// The ticket in `text`, if its signature is this secret's, it is `owner`'s under `key`, and live.
    fn read(&self, text: &[u8], owner: &OwnerId, key: &str) -> Option<StoredTicket> {
        let split = text.iter().position(|&b| b == b'\n')?;
        let (signature, json) = (std::str::from_utf8(&text[..split]).ok()?, &text[split + 1..]);
        if !self.secret.verify(json, signature) {
            crate::trace::event!(warn, "a ticket whose signature is not this service's was refused");
            return None;
        }
        let ticket: StoredTicket = serde_json::from_slice(json).ok()?;
        (&ticket.owner == owner && ticket.key() == key && ticket.is_live()).then_some(ticket)
    }
}

#[async_trait::async_trait]
impl TicketStore for BucketTickets {
    async fn save(&self, ticket: &StoredTicket) -> Result<()> {
        let mut kept = ticket.clone();
        // The presigned URL is a bearer credential: the ticket does without it.
        if let PendingUpload::Single(single) = &mut kept.upload {
            single.request.url.clear();
            single.request.headers.clear();
        }
        let json = serde_json::to_vec(&kept)
            .map_err(|e| crate::Error::Config(format!("a ticket could not be written as JSON: {e}")))?;
        let mut body = self.secret.sign(&json).into_bytes();
        body.push(b'\n');
        body.extend_from_slice(&json);
        let options = PutOptions::new().with_content_type("application/vnd.stowage.ticket");
        self.storage.put_object(&self.object_key(&ticket.owner, ticket.key()), Body::from(body), &options).await?;
        Ok(())
    }

    async fn find(&self, owner: &OwnerId, key: &str) -> Result<Option<StoredTicket>> {
        let Some(object) = self.storage.get_object(&self.object_key(owner, key), &GetOptions::new()).await? else {
            return Ok(None);
        };
        // A ticket is a few KiB; anything much larger is not one.
        if object.meta.size > 256 * 1024 {
            return Ok(None);
        }
        Ok(self.read(&object.bytes().await?, owner, key))
    }

    async fn remove(&self, owner: &OwnerId, key: &str) -> Result<()> {
        self.storage.delete_object(&self.object_key(owner, key)).await
    }

    async fn in_progress(&self, owner: &OwnerId) -> Result<usize> {
        let prefix = format!("{}{owner}/", self.prefix);
        let since = OffsetDateTime::now_utc() - self.lifetime;
        // Tickets sit directly under the owner's folder: nothing else of the bucket is visited.
        let tickets = self.storage.list_objects(&prefix, &ListOptions::new().with_subfolders(false)).all().await?;
        Ok(tickets.iter().filter(|t| t.last_modified.is_none_or(|at| at > since)).count())
    }
}
