//! A TCP proxy a test can cut: every connection through it closes at once and new ones are
//! refused, as when a network partition separates a relay from its database.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// A running proxy to one target; dropping it cuts it too.
pub struct TcpProxy {
    addr: SocketAddr,
    cut: CancellationToken,
}

impl TcpProxy {
    /// Listens on 127.0.0.1:0 and forwards every connection to `target`.
    pub async fn start(target: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let cut = CancellationToken::new();
        let stop = cut.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = stop.cancelled() => return,
                    a = listener.accept() => a,
                };
                let Ok((mut client, _)) = accepted else {
                    continue;
                };
                let stop = stop.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        () = stop.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                    }
                });
            }
        });
        Ok(TcpProxy { addr, cut })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes every connection and refuses new ones.
    pub fn cut(&self) {
        self.cut.cancel();
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut.cancel();
    }
}

/// `url` (`postgres://user@host:port/db…`) with `host:port` replaced by `addr`.
pub fn via(url: &str, addr: SocketAddr) -> anyhow::Result<String> {
    let at = url
        .find('@')
        .map_or_else(|| url.find("://").map(|i| i + 3), |i| Some(i + 1));
    let start = at.ok_or_else(|| anyhow::anyhow!("not a URL"))?;
    let end = url[start..].find('/').map_or(url.len(), |i| start + i);
    Ok(format!("{}{addr}{}", &url[..start], &url[end..]))
}

/// The `host:port` of `url` resolved to an address.
pub async fn target_of(url: &str) -> anyhow::Result<SocketAddr> {
    let at = url
        .find('@')
        .map_or_else(|| url.find("://").map(|i| i + 3), |i| Some(i + 1));
    let start = at.ok_or_else(|| anyhow::anyhow!("not a URL"))?;
    let end = url[start..]
        .find(['/', '?'])
        .map_or(url.len(), |i| start + i);
    let host = &url[start..end];
    let host = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    };
    tokio::net::lookup_host(host)
        .await?
        .next()
        .ok_or_else(|| anyhow::anyhow!("cannot resolve the database host"))
}
