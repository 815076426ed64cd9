//! The HTTP client every provider uses: reqwest over rustls with the ring provider (no global
//! provider needed), HTTP/2 with pooled multiplexed connections, no redirects, the service's
//! request timeout, webpki roots plus the optional `ca_file`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::{NotifyError, Verdict};

/// Idle HTTP/2 connections are pinged this often so a dead one is noticed before a send.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(60);

/// A TLS client certificate chain and its key (APNs certificate auth).
pub(crate) struct ClientIdentity {
    /// Leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: PrivateKeyDer<'static>,
}

/// How one service's client is built.
pub(crate) struct HttpOptions<'a> {
    /// Service name, for errors.
    pub service: &'a str,
    /// Extra trusted root (PEM); empty path = none.
    pub ca_file: &'a Path,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// HTTP/2 only, including h2c prior knowledge on `http://` (APNs); otherwise ALPN picks.
    pub http2_only: bool,
    /// TLS client certificate.
    pub identity: Option<ClientIdentity>,
}

/// Builds the pooled client of one service.
pub(crate) fn build_client(options: HttpOptions<'_>) -> Result<reqwest::Client, NotifyError> {
    let service = options.service;
    let tls_error = |source| NotifyError::Tls {
        service: service.to_owned(),
        source,
    };
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for cert in extra_roots(service, options.ca_file)? {
        roots.add(cert).map_err(tls_error)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?
        .with_root_certificates(roots);
    let mut tls = match options.identity {
        Some(id) => builder
            .with_client_auth_cert(id.chain, id.key)
            .map_err(tls_error)?,
        None => builder.with_no_client_auth(),
    };
    // A preconfigured rustls config keeps its own ALPN list: reqwest does not set it.
    tls.alpn_protocols = if options.http2_only {
        vec![b"h2".to_vec()]
    } else {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    };
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(options.timeout)
        .http2_keep_alive_interval(KEEP_ALIVE_INTERVAL)
        .http2_keep_alive_while_idle(true);
    if options.http2_only {
        builder = builder.http2_prior_knowledge();
    }
    builder.build().map_err(|source| NotifyError::HttpClient {
        service: service.to_owned(),
        source,
    })
}

/// The certificates of `ca_file` (none when the path is empty).
fn extra_roots(service: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, NotifyError> {
    if path.as_os_str().is_empty() {
        return Ok(Vec::new());
    }
    let pem = read_file(service, path)?;
    let invalid = |source: Box<dyn std::error::Error + Send + Sync>| NotifyError::InvalidFile {
        service: service.to_owned(),
        path: path.to_owned(),
        what: "PEM certificate file",
        source,
    };
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(Box::new(e)))?;
    if certs.is_empty() {
        return Err(invalid("no CERTIFICATE block".into()));
    }
    Ok(certs)
}

/// Reads a credential or CA file, naming the service and the file on failure.
pub(crate) fn read_file(service: &str, path: &Path) -> Result<Vec<u8>, NotifyError> {
    std::fs::read(path).map_err(|source| NotifyError::ReadFile {
        service: service.to_owned(),
        path: path.to_owned(),
        source,
    })
}

/// `endpoint` without a trailing slash, or `default` when empty; only http(s) URLs.
pub(crate) fn base_url(
    service: &str,
    key: &'static str,
    endpoint: &str,
    default: &str,
) -> Result<String, NotifyError> {
    let url = if endpoint.is_empty() {
        default
    } else {
        endpoint
    };
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(NotifyError::InvalidEndpoint {
            service: service.to_owned(),
            key,
            url: url.to_owned(),
        });
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// `Retry-After` in seconds (the HTTP-date form is not used by the providers).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse().ok().map(Duration::from_secs)
}

/// A provider's HTTP answer: status, `Retry-After` and body.
pub(crate) struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// `Retry-After`, when given in seconds.
    pub retry_after: Option<Duration>,
    /// The whole body.
    pub body: bytes::Bytes,
}

/// Sends `request` and reads the whole answer; no answer at all becomes a retry verdict.
pub(crate) async fn send(request: reqwest::RequestBuilder) -> Result<Reply, Verdict> {
    let response = request.send().await.map_err(|e| transport_verdict(&e))?;
    let status = response.status().as_u16();
    let retry_after = retry_after(response.headers());
    let body = response.bytes().await.map_err(|e| transport_verdict(&e))?;
    Ok(Reply {
        status,
        retry_after,
        body,
    })
}

/// A request that got no HTTP answer: timeouts and connection failures are retried (§11).
pub(crate) fn transport_verdict(error: &reqwest::Error) -> Verdict {
    let reason = if error.is_timeout() {
        "timeout"
    } else {
        "connection"
    };
    Verdict::retry(reason, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_defaults_trims_and_rejects_other_schemes() {
        let url = |e| base_url("s", "endpoint", e, "https://api.push.apple.com");
        assert_eq!(url("").unwrap(), "https://api.push.apple.com");
        assert_eq!(url("http://127.0.0.1:9/").unwrap(), "http://127.0.0.1:9");
        assert!(matches!(
            url("ftp://x"),
            Err(NotifyError::InvalidEndpoint { .. })
        ));
    }

    #[test]
    fn retry_after_reads_seconds_only() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, "120".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(120)));
        headers.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2026 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn bad_ca_file_names_service_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").unwrap();
        let err = build_client(HttpOptions {
            service: "apns",
            ca_file: &path,
            timeout: Duration::from_secs(1),
            http2_only: true,
            identity: None,
        })
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("apns") && text.contains("ca.pem"), "{text}");
    }
}
