//! The FTP sessions open right now, for `ringctl ftp sessions`: who, from where, doing what.
//!
//! Each session's I/O shell registers at connect and holds a [`SessionHandle`] that it updates
//! at login and around transfers; dropping the handle (however the session ends) removes the
//! entry. The registry is touched a few times per session, never per byte: a transfer's byte
//! count is a single-writer counter the transfer engine advances anyway.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde::Serialize;

use super::transfer_log::Direction;
use crate::metrics::Counter;

/// Every open session of the FTP service, across shards.
#[derive(Debug, Default)]
pub struct SessionRegistry {
    next_id: AtomicU64,
    sessions: Mutex<BTreeMap<u64, Arc<Entry>>>,
}

#[derive(Debug)]
struct Entry {
    id: u64,
    client: SocketAddr,
    connected: Instant,
    detail: Mutex<Detail>,
}

#[derive(Debug, Default)]
struct Detail {
    user: Option<String>,
    activity: Activity,
}

#[derive(Debug, Default)]
enum Activity {
    #[default]
    Idle,
    Listing,
    File {
        direction: Direction,
        path: String,
        moved: Arc<Counter>,
    },
}

/// What a session is doing, as the control socket reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum SessionState {
    Idle,
    /// Sending a directory listing.
    List,
    /// Sending `path` (RETR).
    Retr {
        path: String,
        bytes: u64,
    },
    /// Receiving `path` (STOR, STOU, APPE).
    Stor {
        path: String,
        bytes: u64,
    },
}

/// One session as `ringctl ftp sessions` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SessionInfo {
    pub id: u64,
    pub client: SocketAddr,
    /// The name the logs use once logged in (`ftp_username` for anonymous sessions).
    pub user: Option<String>,
    #[serde(flatten)]
    pub state: SessionState,
    pub connected_secs: u64,
}

/// A session's registration; dropping it removes the session from the registry.
#[derive(Debug)]
pub struct SessionHandle {
    registry: Arc<SessionRegistry>,
    entry: Arc<Entry>,
}

impl SessionRegistry {
    /// Registers a session of `client` that connects at `now`.
    pub fn open(self: &Arc<Self>, client: SocketAddr, now: Instant) -> SessionHandle {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let entry = Arc::new(Entry {
            id,
            client,
            connected: now,
            detail: Mutex::default(),
        });
        lock(&self.sessions).insert(id, Arc::clone(&entry));
        SessionHandle {
            registry: Arc::clone(self),
            entry,
        }
    }

    /// Every open session in the order they connected, as of `now`.
    pub fn snapshot(&self, now: Instant) -> Vec<SessionInfo> {
        let entries: Vec<Arc<Entry>> = lock(&self.sessions).values().cloned().collect();
        entries
            .iter()
            .map(|entry| {
                let detail = lock(&entry.detail);
                let state = match &detail.activity {
                    Activity::Idle => SessionState::Idle,
                    Activity::Listing => SessionState::List,
                    Activity::File {
                        direction: Direction::Outgoing,
                        path,
                        moved,
                    } => SessionState::Retr {
                        path: path.clone(),
                        bytes: moved.get(),
                    },
                    Activity::File {
                        direction: Direction::Incoming,
                        path,
                        moved,
                    } => SessionState::Stor {
                        path: path.clone(),
                        bytes: moved.get(),
                    },
                };
                SessionInfo {
                    id: entry.id,
                    client: entry.client,
                    user: detail.user.clone(),
                    state,
                    connected_secs: now.saturating_duration_since(entry.connected).as_secs(),
                }
            })
            .collect()
    }
}

impl SessionHandle {
    pub fn logged_in(&self, user: &[u8]) {
        lock(&self.entry.detail).user = Some(String::from_utf8_lossy(user).into_owned());
    }

    /// Who the session logged in as; empty before.
    pub fn user(&self) -> Vec<u8> {
        lock(&self.entry.detail)
            .user
            .clone()
            .map(String::into_bytes)
            .unwrap_or_default()
    }

    /// A file transfer of `path` starts; the engine counts its bytes in the counter returned.
    pub fn file_transfer(&self, direction: Direction, path: &[u8]) -> Arc<Counter> {
        let moved = Arc::new(Counter::default());
        lock(&self.entry.detail).activity = Activity::File {
            direction,
            path: String::from_utf8_lossy(path).into_owned(),
            moved: Arc::clone(&moved),
        };
        moved
    }

    pub fn listing(&self) {
        lock(&self.entry.detail).activity = Activity::Listing;
    }

    pub fn idle(&self) {
        lock(&self.entry.detail).activity = Activity::Idle;
    }
}

impl Drop for SessionHandle {
    fn drop(&mut self) {
        lock(&self.registry.sessions).remove(&self.entry.id);
    }
}

/// Session details are plain values set whole, so one set by a thread that then panicked is
/// still a consistent value: keep using it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn client(port: u16) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, 7], port))
    }

    #[test]
    fn sessions_appear_change_and_disappear() {
        let registry = Arc::new(SessionRegistry::default());
        let start = Instant::now();
        let first = registry.open(client(40_001), start);
        let second = registry.open(client(40_002), start);
        let later = start + Duration::from_secs(75);

        let sessions = registry.snapshot(later);
        assert_eq!(sessions.len(), 2);
        assert_eq!(sessions[0].id + 1, sessions[1].id);
        assert_eq!(sessions[0].client, client(40_001));
        assert_eq!(sessions[0].user, None);
        assert_eq!(sessions[0].state, SessionState::Idle);
        assert_eq!(sessions[0].connected_secs, 75);

        first.logged_in(b"ftp");
        let moved = first.file_transfer(Direction::Outgoing, b"/pub/big.iso");
        moved.add(4096);
        second.listing();
        let sessions = registry.snapshot(later);
        assert_eq!(sessions[0].user.as_deref(), Some("ftp"));
        assert_eq!(
            sessions[0].state,
            SessionState::Retr {
                path: "/pub/big.iso".into(),
                bytes: 4096
            }
        );
        assert_eq!(sessions[1].state, SessionState::List);

        let upload = first.file_transfer(Direction::Incoming, b"/upload/x");
        upload.add(10);
        assert_eq!(
            registry.snapshot(later)[0].state,
            SessionState::Stor {
                path: "/upload/x".into(),
                bytes: 10
            }
        );
        first.idle();
        assert_eq!(registry.snapshot(later)[0].state, SessionState::Idle);

        drop(first);
        let sessions = registry.snapshot(later);
        assert_eq!(sessions.len(), 1);
        assert_eq!(sessions[0].client, client(40_002));
        drop(second);
        assert!(registry.snapshot(later).is_empty());
    }

    #[test]
    fn the_json_names_the_state() {
        let info = SessionInfo {
            id: 3,
            client: client(21),
            user: Some("alice".into()),
            state: SessionState::Stor {
                path: "/a".into(),
                bytes: 5,
            },
            connected_secs: 9,
        };
        assert_eq!(
            serde_json::to_string(&info).unwrap(),
            r#"{"id":3,"client":"192.0.2.7:21","user":"alice","state":"stor","path":"/a","bytes":5,"connected_secs":9}"#
        );
    }
}
