//! [`LiveMessages`]: the person's messages as a chain of live pages.
//!
//! The first page is the newest [`PAGE_SIZE`](crate::PAGE_SIZE) messages.
//! "Load more" pins the last page at its end cursor (from then on it holds
//! exactly the messages down to that cursor, growing when new ones arrive
//! in it, as Convex keeps a live page) and adds the next page from that
//! cursor. So the pages never repeat or skip a message while messages
//! arrive, and every page stays live.

use std::collections::HashSet;

use futures_util::FutureExt as _;
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_stream::{StreamExt as _, StreamMap};

use crate::api::{Message, Page, PageRequest};
use crate::client::decode_page;
use crate::{MessagesClient, MessagesError};

/// What the pages hold now.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// The messages of every page that has a result, newest first.
    pub messages: Vec<Message>,
    /// The first page has a result (or failed).
    pub loaded: bool,
    /// A page asked for by "load more" has no result yet.
    pub loading_more: bool,
    /// No message is older than the last one shown.
    pub is_done: bool,
    /// Why a page could not be read, in words for a person.
    pub error: Option<String>,
    /// The error means the backend did not accept the session.
    pub not_authenticated: bool,
}

/// The live pages. Dropping it ends their subscriptions.
#[derive(Debug)]
pub struct LiveMessages {
    commands: mpsc::UnboundedSender<Command>,
    snapshots: watch::Receiver<Snapshot>,
    task: JoinHandle<()>,
}

enum Command {
    LoadMore,
}

impl Drop for LiveMessages {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LiveMessages {
    /// Subscribes to the newest `page_size` messages. Must run inside a
    /// Tokio runtime.
    pub fn start(client: &MessagesClient, page_size: u32) -> Self {
        let (commands, receiver) = mpsc::unbounded_channel();
        let (publish, snapshots) = watch::channel(Snapshot::default());
        let task = tokio::spawn(run(client.clone(), page_size, receiver, publish));
        Self {
            commands,
            snapshots,
            task,
        }
    }

    /// The snapshot now, and each new one.
    pub fn snapshots(&self) -> watch::Receiver<Snapshot> {
        self.snapshots.clone()
    }

    /// Adds the next page (nothing when all are shown or one is loading).
    pub fn load_more(&self) {
        let _ = self.commands.send(Command::LoadMore);
    }
}

/// One page of the chain.
struct Slot {
    key: u64,
    request: PageRequest,
    latest: Option<Result<Page, PageError>>,
    /// The pinned subscription replacing this one, until its first result.
    replacement: Option<(u64, PageRequest)>,
}

/// Why a page has no value, as the snapshot tells it.
struct PageError {
    message: String,
    not_authenticated: bool,
}

struct Pages {
    client: MessagesClient,
    page_size: u32,
    slots: Vec<Slot>,
    streams: StreamMap<u64, convex::QuerySubscription>,
    next_key: u64,
    /// Why the last subscription could not be made, if it could not.
    subscribe_error: Option<String>,
}

async fn run(
    client: MessagesClient,
    page_size: u32,
    mut commands: mpsc::UnboundedReceiver<Command>,
    publish: watch::Sender<Snapshot>,
) {
    let mut pages = Pages {
        client,
        page_size,
        slots: Vec::new(),
        streams: StreamMap::new(),
        next_key: 0,
        subscribe_error: None,
    };
    if let Some(key) = pages.subscribe(PageRequest::first(page_size)).await {
        pages.slots.push(Slot {
            key,
            request: PageRequest::first(page_size),
            latest: None,
            replacement: None,
        });
    }
    publish.send_replace(pages.snapshot());
    loop {
        tokio::select! {
            Some((key, result)) = pages.streams.next(), if !pages.streams.is_empty() => {
                pages.update(key, decode_page(result));
                // The other pages of the same transition, before publishing.
                while let Some(Some((key, result))) = pages.streams.next().now_or_never() {
                    pages.update(key, decode_page(result));
                }
            }
            command = commands.recv() => match command {
                Some(Command::LoadMore) => pages.load_more().await,
                None => return,
            },
        }
        publish.send_if_modified(|current| {
            let next = pages.snapshot();
            let changed = *current != next;
            *current = next;
            changed
        });
    }
}

impl Pages {
    async fn subscribe(&mut self, request: PageRequest) -> Option<u64> {
        match self.client.subscribe(&request).await {
            Ok(subscription) => {
                let key = self.next_key;
                self.next_key += 1;
                self.streams.insert(key, subscription.into_inner());
                Some(key)
            }
            Err(error) => {
                self.subscribe_error = Some(error.to_string());
                None
            }
        }
    }

    fn update(&mut self, key: u64, result: Result<Page, MessagesError>) {
        let result = result.map_err(|e| PageError {
            not_authenticated: matches!(e, MessagesError::NotAuthenticated),
            message: e.to_string(),
        });
        for slot in &mut self.slots {
            if slot.key == key {
                slot.latest = Some(result);
                break;
            }
            if slot.replacement.as_ref().is_some_and(|(k, _)| *k == key) {
                let (new_key, request) = slot.replacement.take().expect("checked");
                self.streams.remove(&slot.key);
                slot.key = new_key;
                slot.request = request;
                slot.latest = Some(result);
                break;
            }
        }
    }

    async fn load_more(&mut self) {
        let Some(last) = self.slots.last() else {
            return;
        };
        let Some(Ok(page)) = &last.latest else {
            return; // still loading, or failed
        };
        if page.is_done || last.replacement.is_some() || last.request.end_cursor.is_some() {
            return;
        }
        let end = page.continue_cursor.clone();
        let pinned = last.request.pinned_at(end.clone());
        let next = PageRequest::after(end, self.page_size);
        let Some(pinned_key) = self.subscribe(pinned.clone()).await else {
            return;
        };
        let Some(next_key) = self.subscribe(next.clone()).await else {
            self.streams.remove(&pinned_key);
            return;
        };
        if let Some(last) = self.slots.last_mut() {
            last.replacement = Some((pinned_key, pinned));
        }
        self.slots.push(Slot {
            key: next_key,
            request: next,
            latest: None,
            replacement: None,
        });
    }

    fn snapshot(&self) -> Snapshot {
        let mut snapshot = Snapshot::default();
        let mut seen = HashSet::new();
        for (i, slot) in self.slots.iter().enumerate() {
            match &slot.latest {
                None => {
                    snapshot.loading_more = i > 0;
                    break;
                }
                Some(Err(error)) => {
                    snapshot.loaded = true;
                    snapshot.error = Some(error.message.clone());
                    snapshot.not_authenticated = error.not_authenticated;
                    break;
                }
                Some(Ok(page)) => {
                    snapshot.loaded = true;
                    snapshot.is_done = page.is_done;
                    let fresh = page.page.iter().filter(|m| seen.insert(m.id.clone()));
                    snapshot.messages.extend(fresh.cloned());
                }
            }
        }
        if let Some(error) = &self.subscribe_error {
            snapshot.error.get_or_insert_with(|| error.clone());
        }
        snapshot
    }
}
