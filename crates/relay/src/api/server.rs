//! The accept loop of the relay's listeners: HTTP/1.1 connections with a header-read timeout,
//! an idle timeout and a cap on open connections, and a shutdown with a deadline (issue 16).
//!
//! **Owns:** accepted sockets and their connection tasks. **Must not:** look at requests: the
//! router does that.
//!
//! A connection slot (one of `max_connections`) is taken before `accept`, so beyond the cap
//! clients wait in the kernel's backlog. On shutdown the listener closes at once, idle
//! connections close, in-flight requests finish; whatever is still open when the grace period
//! ends (a client stuck in a half-sent header, a body that never ends) is dropped.
//! HTTP/1.1 only: the storage servers' last hop and the apps' direct requests use it, and a
//! single protocol keeps the timeouts simple to reason about.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::config::ApiConfig;

/// Read buffer of one connection: request headers must fit in it (hyper's minimum is 8 KiB).
const READ_BUFFER: usize = 16 * 1024;

/// Pause after a failed `accept` (out of file descriptors, …) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How one listener treats its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeOptions {
    /// A connection that has not sent a whole request header within this is closed.
    pub header_read_timeout: Duration,
    /// No bytes either way and no request in progress for this long: closed.
    pub idle_timeout: Duration,
    /// Open connections at most.
    pub max_connections: usize,
    /// After shutdown begins, connections still open after this are dropped.
    pub shutdown_grace: Duration,
}

impl ServeOptions {
    /// The options of `[api]`.
    pub fn from_config(api: &ApiConfig) -> Self {
        ServeOptions {
            header_read_timeout: api.header_read_timeout(),
            idle_timeout: api.idle_timeout(),
            max_connections: api.max_connections,
            shutdown_grace: api.shutdown_grace(),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` is cancelled, then drains for at most
/// `options.shutdown_grace` and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    options: ServeOptions,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(options.max_connections));
    let connections = TaskTracker::new();
    // Cancelled when the grace period ends: every connection still open is dropped.
    let hard_stop = CancellationToken::new();
    loop {
        let permit = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // never closed
            },
        };
        let stream = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                    }
                }
            },
        };
        connections.spawn(connection(
            stream,
            router.clone(),
            options,
            shutdown.clone(),
            hard_stop.clone(),
            permit,
        ));
    }
    drop(listener);
    connections.close();
    if tokio::time::timeout(options.shutdown_grace, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            "connections still open at the end of the grace period: closing them"
        );
        hard_stop.cancel();
        connections.wait().await;
    }
}

/// Serves one connection until it ends, idles out, or the grace period ends.
async fn connection(
    stream: TcpStream,
    router: Router,
    options: ServeOptions,
    shutdown: CancellationToken,
    hard_stop: CancellationToken,
    _slot: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let service = {
        let activity = activity.clone();
        tower::service_fn(move |request: Request<Incoming>| {
            let busy = activity.begin();
            let router = router.clone();
            async move {
                let response = router.oneshot(request.map(Body::new)).await;
                drop(busy);
                response
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .max_buf_size(READ_BUFFER)
        .keep_alive(true);
    let conn = builder.serve_connection(io, TowerToHyperService::new(service));
    tokio::pin!(conn);
    let mut draining = false;
    loop {
        let idle_at = activity.idle_deadline(options.idle_timeout);
        tokio::select! {
            biased;
            () = hard_stop.cancelled() => break,
            ended = conn.as_mut() => {
                if let Err(e) = ended {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            () = shutdown.cancelled(), if !draining => {
                // Closes at once if idle, else after the request in progress.
                conn.as_mut().graceful_shutdown();
                draining = true;
            }
            () = tokio::time::sleep_until(idle_at) => {
                if activity.is_idle(options.idle_timeout) {
                    tracing::debug!("idle connection closed");
                    break;
                }
            }
        }
    }
}

/// When a connection last moved a byte, and how many requests it has in progress.
#[derive(Debug)]
struct Activity {
    start: Instant,
    /// Milliseconds after `start` of the last byte read or written.
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }

    fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        Busy(self.clone())
    }

    /// When the connection will have been idle for `idle`, if nothing happens before.
    fn idle_deadline(&self, idle: Duration) -> Instant {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            Instant::now() + idle
        } else {
            self.last() + idle
        }
    }

    fn is_idle(&self, idle: Duration) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0 && self.last().elapsed() >= idle
    }
}

/// A request in progress on a connection; dropped when its handler returns.
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A socket that records its last byte in an [`Activity`].
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
