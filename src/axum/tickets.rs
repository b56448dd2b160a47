//! Where the upload endpoints keep their tickets between a browser's requests.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::Result;
use crate::constraints::{MultipartTicket, UploadTicket};

/// A ticket the endpoints issued and not yet completed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum StoredTicket {
    /// One presigned PUT (or POST).
    Single(UploadTicket),
    /// A presigned multipart upload.
    Multipart(MultipartTicket),
}

impl StoredTicket {
    /// The key the client names the upload by.
    #[must_use]
    pub fn key(&self) -> &str {
        match self {
            Self::Single(ticket) => &ticket.upload_key,
            Self::Multipart(ticket) => &ticket.final_key,
        }
    }
}

/// Keeps tickets between requests. The default, [`MemoryTickets`], keeps them in this process; a
/// service with several processes (or restarts) stores them in its database — tickets are
/// `serde` values.
#[async_trait::async_trait]
pub trait TicketStore: Send + Sync + 'static {
    /// Keeps `ticket` under its key.
    ///
    /// # Errors
    ///
    /// The store's own.
    async fn save(&self, ticket: StoredTicket) -> Result<()>;

    /// The ticket kept under `key`.
    ///
    /// # Errors
    ///
    /// The store's own.
    async fn find(&self, key: &str) -> Result<Option<StoredTicket>>;

    /// Forgets the ticket under `key` (completed or cancelled).
    ///
    /// # Errors
    ///
    /// The store's own.
    async fn remove(&self, key: &str) -> Result<()>;
}

/// Tickets in this process's memory, forgotten after `keep` (a day by default) if never completed:
/// by then their URLs have expired, and the staging lifecycle rule cleans up what they left.
#[derive(Debug)]
pub struct MemoryTickets {
    tickets: Mutex<HashMap<String, (Instant, StoredTicket)>>,
    keep: Duration,
}

impl MemoryTickets {
    /// A store that forgets uncompleted tickets after a day.
    #[must_use]
    pub fn new() -> Self {
        Self::keeping(Duration::from_secs(24 * 3600))
    }

    /// A store that forgets uncompleted tickets after `keep`.
    #[must_use]
    pub fn keeping(keep: Duration) -> Self {
        Self { tickets: Mutex::new(HashMap::new()), keep }
    }
}

impl Default for MemoryTickets {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait::async_trait]
impl TicketStore for MemoryTickets {
    async fn save(&self, ticket: StoredTicket) -> Result<()> {
        let mut tickets = self.tickets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let keep = self.keep;
        tickets.retain(|_, (saved, _)| saved.elapsed() < keep);
        tickets.insert(ticket.key().to_owned(), (Instant::now(), ticket));
        Ok(())
    }

    async fn find(&self, key: &str) -> Result<Option<StoredTicket>> {
        let tickets = self.tickets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(tickets.get(key).filter(|(saved, _)| saved.elapsed() < self.keep).map(|(_, t)| t.clone()))
    }

    async fn remove(&self, key: &str) -> Result<()> {
        self.tickets.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(key);
        Ok(())
    }
}
