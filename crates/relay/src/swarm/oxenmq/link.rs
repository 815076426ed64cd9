//! One connection's state and its sockets: a DEALER with the options of PROTOCOL §7.1 and the
//! PAIR that receives its socket-monitor events.

use std::time::Instant;

use super::Remote;
use crate::crypto::KeyPair;
use crate::swarm::SwarmError;
use zmq::{consts, Context, Socket};

/// OxenMQ's message size limit (§7.1).
const MAX_MSG_SIZE: i64 = 10_485_760;

pub(super) enum State {
    /// Queued or cooling down until the instant.
    Waiting { until: Instant },
    /// Sockets open, `HI` sent or about to be; no `HELLO` yet.
    Connecting { deadline: Instant },
    /// `HELLO` received.
    Ready,
    /// libzmq lost the TCP connection and is reconnecting by itself.
    Reconnecting,
}

pub(super) struct Sockets {
    pub dealer: Socket,
    pub monitor: Socket,
    /// The pair's sequence number (its epoll tokens are `2 × seq` and `2 × seq + 1`).
    pub seq: usize,
    /// Whether the dealer / monitor is on the proxy's ready list.
    pub queued: [bool; 2],
}

pub(super) struct Link {
    pub remote: Remote,
    pub failures: u32,
    pub state: State,
    pub sockets: Option<Sockets>,
}

/// A DEALER with the options of §7.1, its monitor PAIR, connected to `remote`.
pub(super) fn open_sockets(
    ctx: &Context,
    keys: &KeyPair,
    remote: &Remote,
    monitor_endpoint: &str,
) -> Result<Sockets, SwarmError> {
    let dealer = ctx.socket(consts::ZMQ_DEALER)?;
    let mut routing_id = Vec::with_capacity(33);
    routing_id.push(b'L');
    routing_id.extend_from_slice(keys.public());
    dealer.set_bytes(consts::ZMQ_ROUTING_ID, &routing_id)?;
    dealer.set_int(consts::ZMQ_RECONNECT_IVL, 250)?;
    dealer.set_int(consts::ZMQ_RECONNECT_IVL_MAX, 5_000)?;
    dealer.set_int(consts::ZMQ_HANDSHAKE_IVL, 10_000)?;
    dealer.set_i64(consts::ZMQ_MAXMSGSIZE, MAX_MSG_SIZE)?;
    dealer.set_int(consts::ZMQ_HEARTBEAT_IVL, 15_000)?;
    dealer.set_int(consts::ZMQ_HEARTBEAT_TIMEOUT, 30_000)?;
    dealer.set_int(consts::ZMQ_IPV6, 0)?;
    if let Some(server_key) = &remote.server_key {
        dealer.set_bytes(consts::ZMQ_CURVE_SERVERKEY, server_key)?;
        dealer.set_bytes(consts::ZMQ_CURVE_PUBLICKEY, keys.public())?;
        dealer.set_bytes(consts::ZMQ_CURVE_SECRETKEY, keys.secret())?;
    }
    dealer.monitor(
        monitor_endpoint,
        consts::ZMQ_EVENT_HANDSHAKE_SUCCEEDED | consts::ZMQ_EVENT_DISCONNECTED,
    )?;
    let monitor = ctx.socket(consts::ZMQ_PAIR)?;
    monitor.connect(monitor_endpoint)?;
    dealer.connect(&remote.endpoint)?;
    Ok(Sockets {
        dealer,
        monitor,
        seq: 0,
        queued: [false; 2],
    })
}
