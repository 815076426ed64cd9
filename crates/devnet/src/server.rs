//! What the provider mocks share: a test CA, an HTTP/2 (TLS or h2c) server on 127.0.0.1 and
//! programmable replies.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Recorded requests a mock keeps for the test before dropping new ones.
pub(crate) const RECORD_CAPACITY: usize = 4096;

/// A throw-away certificate authority: server certificates for the mocks, client
/// certificates for APNs certificate auth.
pub struct TestCa {
    key: KeyPair,
    params: CertificateParams,
    cert: rcgen::Certificate,
}

impl TestCa {
    /// A new CA with a fresh P-256 key.
    pub fn new() -> anyhow::Result<Self> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "session-push-relay devnet CA");
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key)?;
        Ok(TestCa { key, params, cert })
    }

    /// The CA certificate as PEM (what a service's `ca_file` holds).
    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    /// The CA certificate as DER.
    pub fn der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }

    /// A leaf certificate for `names` (DNS names or IP addresses) and its PKCS#8 key.
    pub fn issue(
        &self,
        names: &[&str],
    ) -> anyhow::Result<(CertificateDer<'static>, PrivatePkcs8KeyDer<'static>)> {
        let key = KeyPair::generate()?;
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
        if let Some(first) = names.first() {
            params.distinguished_name.push(DnType::CommonName, *first);
        }
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer)?;
        Ok((
            cert.der().clone(),
            PrivatePkcs8KeyDer::from(key.serialize_der()),
        ))
    }

    /// For a mock serving HTTP/2 and HTTP/1.1: with `tls`, a fresh CA and its server config;
    /// without, neither (plain HTTP).
    pub(crate) fn optional(
        tls: bool,
    ) -> anyhow::Result<(Option<TestCa>, Option<Arc<rustls::ServerConfig>>)> {
        if !tls {
            return Ok((None, None));
        }
        let ca = TestCa::new()?;
        let config = ca.server_config(&[b"h2", b"http/1.1"], None)?;
        Ok((Some(ca), Some(config)))
    }

    /// A TLS server config for 127.0.0.1/localhost; with `client_ca`, clients must present a
    /// certificate issued by it.
    pub(crate) fn server_config(
        &self,
        alpn: &[&[u8]],
        client_ca: Option<CertificateDer<'static>>,
    ) -> anyhow::Result<Arc<rustls::ServerConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let (cert, key) = self.issue(&["localhost", "127.0.0.1"])?;
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let builder = match client_ca {
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                roots.add(ca)?;
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_single_cert(vec![cert], PrivateKeyDer::Pkcs8(key))?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }
}

/// The client certificate a TLS connection presented (request extension).
#[derive(Clone, Debug, Default)]
pub(crate) struct PeerCertificate(pub Option<CertificateDer<'static>>);

/// A running mock server; dropping it stops the server and its connections.
pub(crate) struct Serving {
    pub addr: SocketAddr,
    pub tls: bool,
    stop: CancellationToken,
}

impl Serving {
    /// `https://127.0.0.1:port` or `http://127.0.0.1:port`.
    pub(crate) fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Serves `router` on an ephemeral 127.0.0.1 port, over TLS when `tls` is given, else h2c
/// (HTTP/1.1 is accepted too).
async fn serve_router(
    router: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> anyhow::Result<Serving> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot bind a mock port")?;
    let addr = listener.local_addr()?;
    let stop = CancellationToken::new();
    let serving = Serving {
        addr,
        tls: tls.is_some(),
        stop: stop.clone(),
    };
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                () = stop.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            let Ok((stream, _)) = accepted else { continue };
            let (router, acceptor, stop) = (router.clone(), acceptor.clone(), stop.clone());
            tokio::spawn(async move {
                let http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let served = match acceptor {
                    Some(acceptor) => {
                        let Ok(stream) = acceptor.accept(stream).await else {
                            return;
                        };
                        let peer = stream.get_ref().1.peer_certificates();
                        let peer = PeerCertificate(peer.and_then(|c| c.first()).cloned());
                        let service = TowerToHyperService::new(router.layer(Extension(peer)));
                        let conn = http.serve_connection(TokioIo::new(stream), service);
                        tokio::select! { () = stop.cancelled() => Ok(()), r = conn => r }
                    }
                    None => {
                        let service = TowerToHyperService::new(
                            router.layer(Extension(PeerCertificate::default())),
                        );
                        let conn = http.serve_connection(TokioIo::new(stream), service);
                        tokio::select! { () = stop.cancelled() => Ok(()), r = conn => r }
                    }
                };
                if let Err(e) = served {
                    tracing::debug!(error = %e, "mock connection ended");
                }
            });
        }
    });
    Ok(serving)
}

/// What a mock answers to one request.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// An HTTP answer.
    Respond {
        /// HTTP status.
        status: u16,
        /// JSON body.
        body: String,
        /// `Retry-After` seconds.
        retry_after: Option<u64>,
    },
    /// Never answer (the client's timeout fires).
    Hang,
}

impl Reply {
    /// `status` with a JSON `body`.
    pub fn json(status: u16, body: impl Into<String>) -> Self {
        Reply::Respond {
            status,
            body: body.into(),
            retry_after: None,
        }
    }

    /// The same answer with `Retry-After: secs`.
    pub fn with_retry_after(self, secs: u64) -> Self {
        match self {
            Reply::Respond { status, body, .. } => Reply::Respond {
                status,
                body,
                retry_after: Some(secs),
            },
            Reply::Hang => Reply::Hang,
        }
    }

    /// The HTTP response (awaits forever for [`Reply::Hang`]).
    pub(crate) async fn into_response(self) -> Response {
        match self {
            Reply::Respond {
                status,
                body,
                retry_after,
            } => {
                let status = axum::http::StatusCode::from_u16(status)
                    .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
                let mut response =
                    (status, [("content-type", "application/json")], body).into_response();
                if let Some(secs) = retry_after {
                    response
                        .headers_mut()
                        .insert("retry-after", axum::http::HeaderValue::from(secs));
                }
                response
            }
            Reply::Hang => std::future::pending().await,
        }
    }
}

/// A running provider mock: its server ([`MockBase`], which it derefs to) and the state its
/// request handler shares (`S`, private to each mock). Dropping it stops the server.
pub struct Mock<S> {
    base: MockBase,
    pub(crate) shared: Arc<S>,
}

impl<S> std::ops::Deref for Mock<S> {
    type Target = MockBase;

    fn deref(&self) -> &MockBase {
        &self.base
    }
}

impl<S: Send + Sync + 'static> Mock<S> {
    /// Serves `handler` on an ephemeral 127.0.0.1 port (TLS with `tls`); its state is what
    /// `state` makes of the mock's programmed replies, which it answers from.
    pub(crate) async fn serve<H, T>(
        state: impl FnOnce(Arc<Replies>) -> S,
        ca: Option<TestCa>,
        tls: Option<Arc<rustls::ServerConfig>>,
        handler: H,
    ) -> anyhow::Result<Self>
    where
        H: axum::handler::Handler<T, Arc<S>>,
        T: 'static,
    {
        let replies = Arc::new(Replies::default());
        let shared = Arc::new(state(replies.clone()));
        let router = Router::new().fallback(handler).with_state(shared.clone());
        let serving = serve_router(router, tls).await?;
        Ok(Mock {
            base: MockBase::new(serving, ca, replies),
            shared,
        })
    }
}

/// What every provider mock holds and answers the same way: its server, the CA behind its
/// certificate and the replies programmed per token.
pub struct MockBase {
    serving: Serving,
    ca: Option<TestCa>,
    replies: Arc<Replies>,
}

impl MockBase {
    fn new(serving: Serving, ca: Option<TestCa>, replies: Arc<Replies>) -> Self {
        MockBase {
            serving,
            ca,
            replies,
        }
    }

    /// Base URL for the service's `endpoint`.
    pub fn url(&self) -> String {
        self.serving.url()
    }

    /// PEM of the CA that signed the server certificate (the service's `ca_file`), with TLS.
    pub fn ca_pem(&self) -> Option<String> {
        self.ca.as_ref().map(TestCa::pem)
    }

    /// Answer `reply` to every push for `token` (otherwise the provider's success reply).
    pub fn reply(&self, token: &str, reply: Reply) {
        self.replies.always(token, reply);
    }

    /// Answer `reply` to the next push for `token` only.
    pub fn reply_once(&self, token: &str, reply: Reply) {
        self.replies.once(token, reply);
    }
}

/// Programmed replies per device token: one-shot replies first, then the sticky one.
#[derive(Default)]
pub(crate) struct Replies {
    inner: Mutex<Book>,
}

#[derive(Default)]
struct Book {
    once: HashMap<String, VecDeque<Reply>>,
    always: HashMap<String, Reply>,
}

impl Replies {
    /// Answer `reply` to every request for `token`.
    pub(crate) fn always(&self, token: &str, reply: Reply) {
        self.lock().always.insert(token.to_owned(), reply);
    }

    /// Answer `reply` to the next request for `token` only.
    pub(crate) fn once(&self, token: &str, reply: Reply) {
        self.lock()
            .once
            .entry(token.to_owned())
            .or_default()
            .push_back(reply);
    }

    /// The reply for `token`, if one was programmed.
    pub(crate) fn next(&self, token: &str) -> Option<Reply> {
        let mut inner = self.lock();
        if let Some(reply) = inner.once.get_mut(token).and_then(VecDeque::pop_front) {
            return Some(reply);
        }
        inner.always.get(token).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Book> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The receiving side of a mock's request log.
pub(crate) struct Recorder<T> {
    tx: tokio::sync::mpsc::Sender<T>,
    rx: tokio::sync::Mutex<tokio::sync::mpsc::Receiver<T>>,
}

impl<T> Recorder<T> {
    pub(crate) fn new() -> Self {
        let (tx, rx) = tokio::sync::mpsc::channel(RECORD_CAPACITY);
        Recorder {
            tx,
            rx: tokio::sync::Mutex::new(rx),
        }
    }

    /// Records a request; beyond [`RECORD_CAPACITY`] unread ones, new ones are dropped.
    pub(crate) fn record(&self, request: T) {
        let _ = self.tx.try_send(request);
    }

    /// The next recorded request, waiting for one.
    pub(crate) async fn next(&self) -> Option<T> {
        self.rx.lock().await.recv().await
    }
}

/// The value of `authorization: Bearer …`.
pub(crate) fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get("authorization")?.to_str().ok()?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
}
