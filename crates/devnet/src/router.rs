//! A ROUTER socket on its own thread serving one [`Service`]: the common part of the fakes.
//! Jobs (closures run on that thread) let tests read state and push messages.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::{mpsc, Mutex, PoisonError};
use std::thread::JoinHandle;

use anyhow::Context as _;
use tokio::sync::oneshot;

use zmq::{consts, poll, Context, Pollable};

/// What a fake server does with each message.
pub trait Service: Send + 'static {
    /// One message from `route` (the frames after the route frame).
    fn on_message(&mut self, route: &[u8], frames: Vec<Vec<u8>>, out: &mut Outbox);
}

/// Messages to send once the current message or job is handled.
#[derive(Default)]
pub struct Outbox(Vec<(Vec<u8>, Vec<Vec<u8>>)>);

impl Outbox {
    /// Queues `frames` for `route`.
    pub fn send(&mut self, route: &[u8], frames: Vec<Vec<u8>>) {
        self.0.push((route.to_vec(), frames));
    }
}

type Job<S> = Box<dyn FnOnce(&mut S, &mut Outbox) + Send>;

/// Sockets the fake servers of one process may hold together (one ROUTER each).
const MAX_FAKE_SOCKETS: i32 = 16_384;

/// The one libzmq context of every fake server in the process. A context brings its own I/O
/// and reaper threads, epoll and mailbox descriptors: one per fake node cost ≈ 4 descriptors
/// and 2 threads per node, so a 2,000-node network did not fit the file limit.
fn shared_context() -> anyhow::Result<Context> {
    static SHARED: Mutex<Option<Context>> = Mutex::new(None);
    let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(ctx) = shared.as_ref() {
        return Ok(ctx.clone());
    }
    let ctx = Context::new(MAX_FAKE_SOCKETS)?;
    *shared = Some(ctx.clone());
    Ok(ctx)
}

/// A running ROUTER server; dropping it (or `stop`) closes the socket.
pub struct RouterServer<S: Service> {
    jobs: mpsc::Sender<Job<S>>,
    waker: UnixStream,
    endpoint: String,
    thread: Option<JoinHandle<S>>,
}

impl<S: Service> RouterServer<S> {
    /// Binds `bind` (e.g. `tcp://127.0.0.1:0`), as a CURVE server when `curve_secret` is given,
    /// with `ROUTER_HANDOVER` and `ROUTER_MANDATORY` as OxenMQ servers set them.
    pub fn start(bind: &str, curve_secret: Option<[u8; 32]>, service: S) -> anyhow::Result<Self> {
        let ctx = shared_context()?;
        let socket = ctx.socket(consts::ZMQ_ROUTER)?;
        socket.set_int(consts::ZMQ_ROUTER_HANDOVER, 1)?;
        socket.set_int(consts::ZMQ_ROUTER_MANDATORY, 1)?;
        if let Some(secret) = curve_secret {
            socket.set_int(consts::ZMQ_CURVE_SERVER, 1)?;
            socket.set_bytes(consts::ZMQ_CURVE_SECRETKEY, &secret)?;
        }
        socket
            .bind(bind)
            .with_context(|| format!("cannot bind {bind}"))?;
        let endpoint = socket.last_endpoint()?;
        let (jobs, job_rx) = mpsc::channel::<Job<S>>();
        let (waker, wake_rx) = UnixStream::pair()?;
        waker.set_nonblocking(true)?;
        wake_rx.set_nonblocking(true)?;
        let thread = std::thread::Builder::new()
            .name("fake-router".into())
            .spawn(move || {
                let mut service = service;
                let _ctx = ctx;
                while let Ok(ready) = poll(
                    &[Pollable::Socket(&socket), Pollable::Fd(wake_rx.as_raw_fd())],
                    200,
                ) {
                    let mut out = Outbox::default();
                    if ready[1] {
                        let mut buf = [0u8; 64];
                        while matches!((&wake_rx).read(&mut buf), Ok(n) if n > 0) {}
                    }
                    let mut stop = false;
                    loop {
                        match job_rx.try_recv() {
                            Ok(job) => job(&mut service, &mut out),
                            Err(mpsc::TryRecvError::Empty) => break,
                            Err(mpsc::TryRecvError::Disconnected) => {
                                stop = true;
                                break;
                            }
                        }
                    }
                    while let Ok(Some(mut frames)) = socket.recv() {
                        if frames.len() < 2 {
                            continue;
                        }
                        let route = frames.remove(0);
                        service.on_message(&route, frames, &mut out);
                    }
                    for (route, frames) in out.0 {
                        let mut all = vec![route];
                        all.extend(frames);
                        // An unknown route (ROUTER_MANDATORY) is the peer's loss, not ours.
                        let _ = socket.send(&all);
                    }
                    if stop {
                        break;
                    }
                }
                drop(socket);
                service
            })?;
        Ok(RouterServer {
            jobs,
            waker,
            endpoint,
            thread: Some(thread),
        })
    }

    /// The bound endpoint, e.g. `tcp://127.0.0.1:41234`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Runs `f` on the server thread and returns its result.
    pub async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut S, &mut Outbox) -> R + Send + 'static,
    ) -> anyhow::Result<R> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Box::new(move |s, out| {
                let _ = tx.send(f(s, out));
            }))
            .map_err(|_| anyhow::anyhow!("fake server stopped"))?;
        let _ = (&self.waker).write(&[1]);
        Ok(rx.await?)
    }

    /// Closes the socket and returns the service (its state).
    pub fn stop(mut self) -> anyhow::Result<S> {
        self.shutdown()
            .ok_or_else(|| anyhow::anyhow!("the fake server thread panicked"))
    }

    fn shutdown(&mut self) -> Option<S> {
        let thread = self.thread.take()?;
        let (dead, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.jobs, dead));
        let _ = (&self.waker).write(&[1]);
        thread.join().ok()
    }
}

impl<S: Service> Drop for RouterServer<S> {
    fn drop(&mut self) {
        self.shutdown();
    }
}
