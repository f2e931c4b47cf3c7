//! SQLite storage for the `messages` table: WAL, one writer connection,
//! a small pool of readers, and the `by_author` index on
//! `(author, creation_time)`.

use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

use crate::commits::Commits;
use crate::Error;

/// File name inside the data folder.
pub(crate) const DB_FILE: &str = "convex-local.sqlite3";
/// Enough for every request in flight at 64 connections to reuse one: opening
/// a connection costs far more than the query itself.
const MAX_IDLE_READERS: usize = 64;

/// The first page of an author's messages, newest first.
const PAGE_SQL: &str = "SELECT id, creation_time, author, author_name, body, client_message_id
     FROM messages WHERE author = ?1
     ORDER BY creation_time DESC, id DESC LIMIT ?2";

/// One row of `messages`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Message {
    pub(crate) id: String,
    pub(crate) creation_time: f64,
    pub(crate) author: String,
    pub(crate) author_name: String,
    pub(crate) body: String,
    pub(crate) client_message_id: Option<String>,
}

/// The document as Convex returns it, written straight from the row: the
/// same fields, in the same order, as [`Message::to_doc`].
impl serde::Serialize for Message {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let len = 5 + usize::from(self.client_message_id.is_some());
        let mut map = s.serialize_map(Some(len))?;
        map.serialize_entry("_id", &self.id)?;
        map.serialize_entry("_creationTime", &self.creation_time)?;
        map.serialize_entry("author", &self.author)?;
        map.serialize_entry("authorName", &self.author_name)?;
        map.serialize_entry("body", &self.body)?;
        if let Some(c) = &self.client_message_id {
            map.serialize_entry("clientMessageId", c)?;
        }
        map.end()
    }
}

impl Message {
    /// The document as Convex returns it.
    pub(crate) fn to_doc(&self) -> Value {
        let mut doc = json!({
            "_id": self.id,
            "_creationTime": self.creation_time,
            "author": self.author,
            "authorName": self.author_name,
            "body": self.body,
        });
        if let Some(c) = &self.client_message_id {
            doc["clientMessageId"] = c.clone().into();
        }
        doc
    }
}

/// A position in the `(creation_time, id)` order, newest first.
pub(crate) type Position = (f64, String);

struct Writer {
    conn: Connection,
    last_creation_time: f64,
}

/// The database. Reads run on pooled connections; writes are serialized on
/// one connection (SQLite has a single writer anyway).
pub(crate) struct Store {
    path: std::path::PathBuf,
    writer: Mutex<Writer>,
    readers: Mutex<Vec<Connection>>,
    commits: Commits,
}

fn open(path: &Path) -> Result<Connection, Error> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // The bundled SQLite has STAT4: without the query planner stability
    // guarantee, binding `author` (compared with the partial index's column
    // set) marks cached statements expired, so every read re-parsed and
    // re-planned its SQL. The plan never depends on the bound values here.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(conn)
}

/// The data folder, private to its owner (0700 on Unix): messages are personal.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        // A folder that already existed keeps its mode otherwise.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

/// The database, its WAL and its shared-memory file, 0600 on Unix. SQLite
/// gives the WAL and SHM the database file's mode, so creating that file
/// 0600 first covers new ones; existing files are tightened here.
fn make_private(db: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(db)?;
        for suffix in ["", "-wal", "-shm"] {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            match std::fs::set_permissions(&name, std::fs::Permissions::from_mode(0o600)) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                other => other?,
            }
        }
    }
    #[cfg(not(unix))]
    let _ = db;
    Ok(())
}

impl Store {
    pub(crate) fn open(dir: &Path) -> Result<Store, Error> {
        let private = |source| Error::DataDir {
            path: dir.to_owned(),
            source,
        };
        create_private_dir(dir).map_err(private)?;
        let path = dir.join(DB_FILE);
        make_private(&path).map_err(private)?;
        let conn = open(&path)?;
        // Opening in WAL mode created the WAL and SHM files.
        make_private(&path).map_err(private)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS messages (
                 id TEXT PRIMARY KEY NOT NULL,
                 creation_time REAL NOT NULL,
                 author TEXT NOT NULL,
                 author_name TEXT NOT NULL,
                 body TEXT NOT NULL,
                 client_message_id TEXT
             );
             CREATE INDEX IF NOT EXISTS by_author ON messages (author, creation_time, id);
             CREATE UNIQUE INDEX IF NOT EXISTS by_author_client_message_id
                 ON messages (author, client_message_id) WHERE client_message_id IS NOT NULL;",
        )?;
        let last_creation_time: f64 = conn.query_row(
            "SELECT COALESCE(MAX(creation_time), 0) FROM messages",
            [],
            |r| r.get(0),
        )?;
        Ok(Store {
            path,
            writer: Mutex::new(Writer {
                conn,
                last_creation_time,
            }),
            readers: Mutex::new(Vec::new()),
            commits: Commits::new(),
        })
    }

    /// The commit clock and its announcements.
    pub(crate) fn commits(&self) -> &Commits {
        &self.commits
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T, Error>) -> Result<T, Error> {
        let pooled = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match pooled {
            Some(c) => c,
            None => open(&self.path)?,
        };
        let out = f(&conn);
        let mut pool = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < MAX_IDLE_READERS {
            pool.push(conn);
        }
        out
    }

    pub(crate) fn is_empty(&self) -> Result<bool, Error> {
        self.read(|c| {
            Ok(
                c.query_row("SELECT NOT EXISTS (SELECT 1 FROM messages)", [], |r| {
                    r.get(0)
                })?,
            )
        })
    }

    /// Up to `limit` messages of `author` strictly older than `after`, newest first.
    pub(crate) fn page(
        &self,
        author: &str,
        after: Option<&Position>,
        limit: usize,
    ) -> Result<Vec<Message>, Error> {
        self.read(|c| {
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = match after {
                None => {
                    let mut st = c.prepare_cached(PAGE_SQL)?;
                    let rows = st.query_map(params![author, limit], row_to_message)?;
                    rows.collect::<Result<Vec<_>, _>>()?
                }
                Some((t, id)) => {
                    let mut st = c.prepare_cached(
                        "SELECT id, creation_time, author, author_name, body, client_message_id
                         FROM messages WHERE author = ?1
                           AND (creation_time < ?2 OR (creation_time = ?2 AND id < ?3))
                         ORDER BY creation_time DESC, id DESC LIMIT ?4",
                    )?;
                    let rows = st.query_map(params![author, t, id, limit], row_to_message)?;
                    rows.collect::<Result<Vec<_>, _>>()?
                }
            };
            Ok(rows)
        })
    }

    /// Every message of `author` strictly older than `after` (if given) and
    /// no older than `until`, newest first: a page whose end is fixed (a
    /// live page keeps its end while messages arrive, so the next page
    /// neither repeats nor skips one).
    pub(crate) fn page_until(
        &self,
        author: &str,
        after: Option<&Position>,
        until: &Position,
    ) -> Result<Vec<Message>, Error> {
        self.read(|c| {
            let (ut, uid) = until;
            let rows = match after {
                None => {
                    let mut st = c.prepare_cached(
                        "SELECT id, creation_time, author, author_name, body, client_message_id
                         FROM messages WHERE author = ?1
                           AND (creation_time > ?2 OR (creation_time = ?2 AND id >= ?3))
                         ORDER BY creation_time DESC, id DESC",
                    )?;
                    let rows = st.query_map(params![author, ut, uid], row_to_message)?;
                    rows.collect::<Result<Vec<_>, _>>()?
                }
                Some((t, id)) => {
                    let mut st = c.prepare_cached(
                        "SELECT id, creation_time, author, author_name, body, client_message_id
                         FROM messages WHERE author = ?1
                           AND (creation_time < ?2 OR (creation_time = ?2 AND id < ?3))
                           AND (creation_time > ?4 OR (creation_time = ?4 AND id >= ?5))
                         ORDER BY creation_time DESC, id DESC",
                    )?;
                    let rows = st.query_map(params![author, t, id, ut, uid], row_to_message)?;
                    rows.collect::<Result<Vec<_>, _>>()?
                }
            };
            Ok(rows)
        })
    }

    /// Every message of `author`, newest first.
    pub(crate) fn all_by_author(&self, author: &str) -> Result<Vec<Message>, Error> {
        self.page(author, None, usize::MAX >> 1)
    }

    /// Inserts a message, or returns the id of the author's earlier message
    /// with the same `client_message_id` (writing nothing).
    pub(crate) fn send(
        &self,
        author: &str,
        author_name: &str,
        body: &str,
        client_message_id: Option<&str>,
    ) -> Result<String, Error> {
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let creation_time = next_creation_time(now_ms(), w.last_creation_time);
        let tx = w.conn.transaction()?;
        if let Some(cmid) = client_message_id {
            let existing: Option<String> = tx
                .query_row(
                    "SELECT id FROM messages WHERE author = ?1 AND client_message_id = ?2",
                    params![author, cmid],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(id) = existing {
                return Ok(id);
            }
        }
        let id = new_id();
        tx.execute(
            "INSERT INTO messages (id, creation_time, author, author_name, body, client_message_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                id,
                creation_time,
                author,
                author_name,
                body,
                client_message_id
            ],
        )?;
        tx.commit()?;
        w.last_creation_time = creation_time;
        self.commits.publish(author);
        Ok(id)
    }

    /// Inserts messages with given creation times (demo seed, benches).
    pub(crate) fn insert_many(&self, rows: &[(f64, &str, &str, &str)]) -> Result<(), Error> {
        let mut guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let w = &mut *guard;
        let tx = w.conn.transaction()?;
        let mut max = w.last_creation_time;
        {
            let mut st = tx.prepare(
                "INSERT INTO messages (id, creation_time, author, author_name, body)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (t, author, name, body) in rows {
                st.execute(params![new_id(), t, author, name, body])?;
                max = max.max(*t);
            }
        }
        tx.commit()?;
        w.last_creation_time = max;
        let authors: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.1).collect();
        for author in authors {
            self.commits.publish(author);
        }
        Ok(())
    }
}

fn row_to_message(r: &rusqlite::Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        id: r.get(0)?,
        creation_time: r.get(1)?,
        author: r.get(2)?,
        author_name: r.get(3)?,
        body: r.get(4)?,
        client_message_id: r.get(5)?,
    })
}

/// Milliseconds since the epoch, with sub-millisecond precision.
pub(crate) fn now_ms() -> f64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    d.as_nanos() as f64 / 1e6
}

/// Creation times strictly increase, so "newest first" is a total order
/// even for messages written in the same millisecond or after a clock step back.
fn next_creation_time(now: f64, last: f64) -> f64 {
    if now > last + 0.001 {
        now
    } else {
        last + 0.001
    }
}

/// A random 32-character id in Convex's lowercase base32 alphabet.
pub(crate) fn new_id() -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("OS random source");
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(b & 31)] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creation_times_strictly_increase() {
        assert_eq!(next_creation_time(10.0, 5.0), 10.0);
        assert!(next_creation_time(10.0, 10.0) > 10.0);
        assert!(next_creation_time(9.0, 10.0) > 10.0);
        let t = 1.7e12;
        assert!(next_creation_time(t, t) > t);
    }

    #[test]
    fn idempotent_send_and_pages() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a = store.send("a", "A", "one", Some("c1")).unwrap();
        let again = store.send("a", "A", "other body", Some("c1")).unwrap();
        assert_eq!(a, again);
        let b = store.send("b", "B", "theirs", Some("c1")).unwrap();
        assert_ne!(a, b);
        store.send("a", "A", "two", None).unwrap();
        let all = store.all_by_author("a").unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].body, "two");
        let first = store.page("a", None, 1).unwrap();
        let rest = store
            .page(
                "a",
                Some(&(first[0].creation_time, first[0].id.clone())),
                10,
            )
            .unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].body, "one");
    }

    #[test]
    fn serialized_messages_match_their_documents() {
        let mut m = Message {
            id: "k1".into(),
            creation_time: 1_795_417_060_925.970_2,
            author: "https://i|u".into(),
            author_name: "Ada \"L\" \u{1F600}".into(),
            body: "line\nbreak \u{0} </script>".into(),
            client_message_id: None,
        };
        for cmid in [None, Some("c-1".to_owned())] {
            m.client_message_id = cmid;
            assert_eq!(serde_json::to_value(&m).unwrap(), m.to_doc());
            assert_eq!(serde_json::to_string(&m).unwrap(), m.to_doc().to_string());
        }
    }

    #[test]
    fn cached_reads_are_not_reprepared() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.send("a", "A", "one", Some("c1")).unwrap();
        for author in ["a", "b", "a", "c"] {
            store.page(author, None, 10).unwrap();
        }
        let reprepared = store
            .read(|c| {
                let st = c.prepare_cached(PAGE_SQL)?;
                Ok(st.get_status(rusqlite::StatementStatus::RePrepare))
            })
            .unwrap();
        assert_eq!(reprepared, 0);
    }
}
