//! The SQLite store: the engine's only state.
//!
//! Writes go through one writer thread that owns the write connection. It takes every job
//! waiting in its queue, runs each inside its own savepoint, and commits them in one
//! transaction: with `synchronous=FULL` that is one fsync for a whole group of concurrent SMTP
//! transactions instead of one each (group commit). A job's caller hears back only after the
//! commit, so "250 after durable" holds for every message in the group.
//!
//! Reads use a small pool of read-only connections; WAL lets them run beside the writer.
//! Both run on plain threads (`spawn_blocking` for reads), never on the async workers.

mod bulk;
mod export;
mod locate;
mod migrate;
mod ops;
mod paging;
mod purge;
mod relay;
pub mod remotes;
mod search;
mod tags;
mod webhooks;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result};

pub use bulk::{BulkAction, BulkOutcome, BulkScope, Selection};
pub use export::RawRow;
pub(crate) use ops::insert_mailbox;
pub use ops::{
    Delivered, DeliveryCopy, DeliveryOutcome, MessageFilter, NewMailbox, PreparedMessage,
    RcptTarget, RecentPage,
};
pub use paging::Page;
pub use purge::Tuning;
pub use relay::{RelayAttempt, RelayJob, RelayJobRow, RelayJobState};
pub use webhooks::{
    Attempt, DeliveryRow, DeliveryState, NewDelivery, PendingDelivery, Webhook, WebhookInsert,
};

/// The database file name inside the data directory.
pub const DB_FILE: &str = "mailiy.db";

/// Jobs committed together at most; bounds one transaction's size and latency.
const MAX_GROUP: usize = 256;
/// WAL pages between automatic checkpoints (16 MiB at 4 KiB pages).
const WAL_AUTOCHECKPOINT_PAGES: u32 = 4000;
/// Read connections kept open for reuse.
const MAX_IDLE_READERS: usize = 8;

/// Runs inside the writer's transaction; returns what to tell the caller once the commit is known.
/// Also returns the error that ended the group's transaction, when this job's failure made
/// SQLite roll all of it back.
type WriteFn = Box<dyn FnOnce(&Connection) -> (Completion, Option<Arc<Error>>) + Send>;
type Completion = Box<dyn FnOnce(Result<(), Arc<Error>>) + Send>;

enum Job {
    Write(WriteFn),
    /// Truncate the WAL after a delete, so no deleted byte stays in any file.
    Checkpoint(tokio::sync::oneshot::Sender<Result<()>>),
}

/// A handle on the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    readers: Mutex<Vec<Connection>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Reads and writes run, for `/metrics`: an idle engine must not query at all.
    queries: AtomicU64,
    /// Bumped on every webhook insert and delete (see [`Store::webhooks_generation`]).
    webhooks_generation: AtomicU64,
    /// How big one step of deleting and vacuuming may be.
    tuning: Tuning,
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // secure_delete: freed pages are zeroed, so a deleted message leaves no bytes behind.
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         PRAGMA secure_delete = ON;
         PRAGMA synchronous = FULL;
         PRAGMA temp_store = MEMORY;",
    )
}

impl Store {
    /// Opens (creating if needed) the store in `data_dir` and starts its writer thread.
    pub fn open(data_dir: &Path) -> Result<Store> {
        Store::open_tuned(data_dir, Tuning::default())
    }

    /// [`Store::open`] with the given bounds on deleting and vacuuming.
    pub fn open_tuned(data_dir: &Path, tuning: Tuning) -> Result<Store> {
        std::fs::create_dir_all(data_dir).map_err(|source| Error::DataDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = data_dir.join(DB_FILE);
        let mut conn = Connection::open(&path)?;
        // Before WAL: a new file then takes incremental auto-vacuum without a VACUUM.
        purge::use_incremental_vacuum(&conn)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // Checkpoint less often than the default 1,000 pages: appends rewrite the same right-edge
        // pages, and a checkpoint copies each page once however often the WAL holds it.
        conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)?;
        configure(&conn)?;
        migrate::run(&mut conn)?;
        search::prepare_writer(&conn)?;

        let (tx, rx) = mpsc::channel();
        let writer = std::thread::Builder::new()
            .name("mailiy-store-writer".into())
            .spawn(move || writer_loop(conn, rx, tuning))?;
        Ok(Store {
            inner: Arc::new(Inner {
                path,
                jobs: Mutex::new(Some(tx)),
                readers: Mutex::new(Vec::new()),
                writer: Mutex::new(Some(writer)),
                queries: AtomicU64::new(0),
                webhooks_generation: AtomicU64::new(0),
                tuning,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Reads and writes run so far (each `read`, `read_blocking` and `write` call counts one).
    pub fn queries(&self) -> u64 {
        self.inner.queries.load(Ordering::Relaxed)
    }

    fn submit(&self, job: Job) -> Result<()> {
        let jobs = self.inner.jobs.lock().unwrap_or_else(|p| p.into_inner());
        match jobs.as_ref() {
            Some(tx) => tx.send(job).map_err(|_| Error::ShuttingDown),
            None => Err(Error::ShuttingDown),
        }
    }

    /// Runs `f` in the writer's transaction; resolves after the commit (or its failure).
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.inner.queries.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<T>>();
        let job: WriteFn = Box::new(move |conn| {
            let done = |outcome: Result<T>| -> Completion {
                Box::new(move |commit| {
                    let result = match commit {
                        Ok(()) => outcome,
                        Err(e) if is_disk_full(&e) => Err(disk_full()),
                        Err(e) => Err(Error::CommitFailed(e.to_string())),
                    };
                    let _ = tx.send(result);
                })
            };
            if conn.is_autocommit() {
                // An earlier job of the group ended the transaction; run now, this job would
                // commit on its own. It fails with the group instead (and its sender retries).
                return (done(Err(Error::ShuttingDown)), None);
            }
            let outcome = in_savepoint(conn, f);
            let aborted = conn.is_autocommit().then(|| {
                Arc::new(match &outcome {
                    Err(e) if is_disk_full(e) => disk_full(),
                    Err(e) => Error::CommitFailed(e.to_string()),
                    Ok(_) => Error::CommitFailed("the transaction ended inside a job".into()),
                })
            });
            (done(outcome), aborted)
        });
        self.submit(Job::Write(job))?;
        rx.await.map_err(|_| Error::ShuttingDown)?
    }

    /// Checkpoints the WAL with TRUNCATE: after a delete, no deleted byte remains in the WAL.
    pub async fn checkpoint(&self) -> Result<()> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(Job::Checkpoint(tx))?;
        rx.await.map_err(|_| Error::ShuttingDown)?
    }

    /// Runs `f` on a read connection on the blocking pool.
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.read_blocking(f))
            .await
            .map_err(|_| Error::ShuttingDown)?
    }

    /// Runs `f` on a read connection on this thread.
    pub fn read_blocking<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        // `read` ends up here too, so each read counts once.
        self.inner.queries.fetch_add(1, Ordering::Relaxed);
        let conn = self.take_reader()?;
        let result = f(&conn);
        let mut idle = self.inner.readers.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }

    fn take_reader(&self) -> Result<Connection> {
        if let Some(c) = self
            .inner
            .readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
        {
            return Ok(c);
        }
        let conn = Connection::open_with_flags(
            &self.inner.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        configure(&conn)?;
        Ok(conn)
    }

    /// Stops the writer after the jobs already queued; later writes fail with `ShuttingDown`.
    pub fn close(&self) {
        self.inner
            .jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let writer = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(w) = writer {
            let _ = w.join();
        }
        self.inner
            .readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// True when `e` means the disk (or the data directory's file system) is full: SQLite's
/// `SQLITE_FULL`, which it reports for `ENOSPC`. SMTP answers such a failure with 452, a
/// temporary refusal: the sender retries, and writes work again once space is freed.
pub fn is_disk_full(e: &Error) -> bool {
    match e {
        Error::Storage(rusqlite::Error::SqliteFailure(f, _)) => {
            f.code == rusqlite::ErrorCode::DiskFull
        }
        Error::Io(io) => io.kind() == std::io::ErrorKind::StorageFull,
        _ => false,
    }
}

/// The error of a commit that failed for a full disk (the commit's own error is shared by
/// the whole group, so each job gets a fresh one of the same kind).
fn disk_full() -> Error {
    Error::Storage(rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
        None,
    ))
}

/// One job in its own savepoint, so a failing job rolls back alone and its group still commits.
///
/// On a full disk or an I/O error SQLite may roll back the whole transaction by itself; then
/// there is no savepoint left, the job's own error is returned, and the writer fails the group.
/// A job that cannot be undone alone takes the group down with it rather than commit half.
fn in_savepoint<T>(conn: &Connection, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    let run = |sql: &str| conn.prepare_cached(sql).and_then(|mut st| st.execute([]));
    run("SAVEPOINT job")?;
    let result = f(conn);
    if conn.is_autocommit() {
        return result;
    }
    let settled = match &result {
        Err(_) => run("ROLLBACK TO job").and_then(|_| run("RELEASE job")),
        Ok(_) => run("RELEASE job"),
    };
    if let Err(e) = settled {
        let _ = conn.execute_batch("ROLLBACK");
        return result.and(Err(e.into()));
    }
    result
}

/// What the writer does between groups of jobs: free a hidden mailbox chunk by chunk, then
/// give the free pages back, then truncate the WAL ([`purge`]). One step after each group (so
/// a steady load cannot starve it) and more while the queue is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Upkeep {
    Idle,
    Purge,
    Vacuum,
    Checkpoint,
}

impl Upkeep {
    fn step(self, conn: &Connection, tuning: Tuning) -> Upkeep {
        let done = match self {
            Upkeep::Idle => return Upkeep::Idle,
            Upkeep::Purge => purge::purge_step(conn, tuning).map(|more| (more, Upkeep::Vacuum)),
            Upkeep::Vacuum => {
                purge::vacuum_step(conn, tuning).map(|more| (more, Upkeep::Checkpoint))
            }
            Upkeep::Checkpoint => checkpoint(conn).map(|()| (false, Upkeep::Idle)),
        };
        match done {
            Ok((true, _)) => self,
            Ok((false, next)) => next,
            Err(e) => {
                // Tried again after the next group; the hidden mailbox stays hidden meanwhile.
                tracing::error!(error = %e, "store: freeing deleted mail failed");
                self
            }
        }
    }

    /// After a group: a mailbox it hid starts the purge (unless one is under way).
    fn after_group(self, conn: &Connection) -> Upkeep {
        match self {
            Upkeep::Idle | Upkeep::Checkpoint if purge::pending(conn).unwrap_or(false) => {
                Upkeep::Purge
            }
            other => other,
        }
    }
}

fn writer_loop(conn: Connection, rx: mpsc::Receiver<Job>, tuning: Tuning) {
    let mut pending: Option<Job> = None;
    // A purge cut short by a stop or a crash goes on after the start.
    let mut upkeep = Upkeep::Idle.after_group(&conn);
    loop {
        let next = match pending.take() {
            Some(j) => Some(j),
            None if upkeep == Upkeep::Idle => rx.recv().ok(),
            None => match rx.try_recv() {
                Ok(j) => Some(j),
                Err(mpsc::TryRecvError::Empty) => {
                    upkeep = upkeep.step(&conn, tuning);
                    continue;
                }
                Err(mpsc::TryRecvError::Disconnected) => None,
            },
        };
        let Some(first) = next else {
            break;
        };
        let mut group = match first {
            Job::Checkpoint(reply) => {
                let _ = reply.send(checkpoint(&conn));
                continue;
            }
            Job::Write(f) => vec![f],
        };
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(Job::Write(f)) => group.push(f),
                Ok(other) => {
                    pending = Some(other);
                    break;
                }
                Err(_) => break,
            }
        }
        let group_len = group.len();
        let started = std::time::Instant::now();
        let completions: Vec<Completion>;
        let ran;
        let commit = match conn.execute_batch("BEGIN IMMEDIATE") {
            Ok(()) => {
                let mut aborted = None;
                completions = group
                    .into_iter()
                    .map(|f| {
                        let (done, ended) = f(&conn);
                        aborted = aborted.take().or(ended);
                        done
                    })
                    .collect();
                ran = started.elapsed();
                match aborted {
                    Some(e) => Err(e),
                    None => search::flush_staged(&conn)
                        .and_then(|()| conn.execute_batch("COMMIT"))
                        .map_err(|e| {
                            let _ = conn.execute_batch("ROLLBACK");
                            Arc::new(Error::from(e))
                        }),
                }
            }
            Err(e) => {
                completions = Vec::new();
                ran = started.elapsed();
                tracing::error!(error = %e, "store: cannot begin a write transaction");
                Err(Arc::new(Error::from(e)))
            }
        };
        if let Err(e) = &commit {
            tracing::error!(error = %e, "store: commit failed");
        }
        tracing::trace!(
            jobs = group_len,
            run_us = ran.as_micros() as u64,
            total_us = started.elapsed().as_micros() as u64,
            "store: group committed"
        );
        for done in completions {
            done(commit.clone());
        }
        upkeep = upkeep.after_group(&conn).step(&conn, tuning);
    }
    let _ = checkpoint(&conn);
}

fn checkpoint(conn: &Connection) -> Result<()> {
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(())
}
