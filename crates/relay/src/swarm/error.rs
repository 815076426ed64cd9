//! `SwarmError`: everything that can fail on the swarm side.

/// A swarm-side failure.
#[derive(Debug, thiserror::Error)]
pub enum SwarmError {
    /// A libzmq call failed.
    #[error(transparent)]
    Zmq(#[from] zmq::ZmqError),
    /// `[swarm] oxend` is not one of the accepted forms.
    #[error("invalid [swarm] oxend {value:?}: {reason}")]
    InvalidOxend {
        /// The configured value.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A request was not answered in time (PROTOCOL §7.2).
    #[error("request {command} timed out")]
    Timeout {
        /// The request's command name.
        command: String,
    },
    /// The connection is not established (or was lost while the request was pending).
    #[error("not connected")]
    NotConnected,
    /// The remote refused the request (`FORBIDDEN`, `FORBIDDEN_SN`, `NOT_A_SERVICE_NODE`).
    #[error("request refused: {0}")]
    Refused(String),
    /// The OxenMQ proxy thread is gone.
    #[error("the OxenMQ proxy thread has stopped")]
    ProxyStopped,
    /// oxend answered with something that is not a usable node list.
    #[error("bad get_service_nodes reply: {0}")]
    BadNodeList(String),
    /// A JSON-RPC node-list request failed.
    #[error("json-rpc request failed")]
    Http(#[source] reqwest::Error),
    /// A bencoded value could not be built or parsed.
    #[error("bencode: {0}")]
    Bencode(String),
    /// A `notify.message` lacks a required field or has a wrong one (§8.4).
    #[error("malformed notify.message: {0}")]
    BadNotify(&'static str),
    /// The proxy thread could not be started.
    #[error("cannot start the OxenMQ thread")]
    Thread(#[source] std::io::Error),
}
