//! Test helpers shared by the suites.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use convex_http::{TokenError, TokenSource};

/// A token source that hands out `current`, and on `refresh` the next of
/// `refreshes` (or an error when told to), counting both calls.
#[derive(Default)]
pub(crate) struct CountingTokens {
    pub(crate) current: Mutex<Option<String>>,
    pub(crate) refreshes: Mutex<Vec<Result<Option<String>, TokenError>>>,
    pub(crate) token_calls: AtomicUsize,
    pub(crate) refresh_calls: AtomicUsize,
}

impl CountingTokens {
    pub(crate) fn new(current: Option<&str>) -> Arc<Self> {
        Arc::new(Self {
            current: Mutex::new(current.map(str::to_owned)),
            ..Self::default()
        })
    }

    /// Queues what the next `refresh` returns.
    pub(crate) fn then_refresh_to(
        self: &Arc<Self>,
        next: Result<Option<&str>, TokenError>,
    ) -> Arc<Self> {
        self.refreshes
            .lock()
            .unwrap()
            .push(next.map(|t| t.map(str::to_owned)));
        self.clone()
    }

    pub(crate) fn refresh_calls(&self) -> usize {
        self.refresh_calls.load(Ordering::SeqCst)
    }
}

#[convex_http::async_trait]
impl TokenSource for CountingTokens {
    async fn token(&self) -> Result<Option<String>, TokenError> {
        self.token_calls.fetch_add(1, Ordering::SeqCst);
        Ok(self.current.lock().unwrap().clone())
    }

    async fn refresh(&self) -> Result<Option<String>, TokenError> {
        self.refresh_calls.fetch_add(1, Ordering::SeqCst);
        let mut queue = self.refreshes.lock().unwrap();
        assert!(
            !queue.is_empty(),
            "refresh called more often than the test expected"
        );
        let next = queue.remove(0);
        if let Ok(token) = &next {
            *self.current.lock().unwrap() = token.clone();
        }
        next
    }
}

/// Everything `tracing` printed in this test binary, at every level.
///
/// One global subscriber, installed by the first caller: a thread-local one
/// races with other tests over `tracing`'s per-callsite interest cache. Every
/// test calls this first so the subscriber is in place before any callsite
/// is hit.
pub(crate) fn logs() -> LogCapture {
    static CAPTURE: OnceLock<LogCapture> = OnceLock::new();
    CAPTURE
        .get_or_init(|| {
            let capture = LogCapture::default();
            let writer = capture.clone();
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .init();
            capture
        })
        .clone()
}

/// The shared log buffer behind [`logs`].
#[derive(Clone, Default)]
pub(crate) struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
