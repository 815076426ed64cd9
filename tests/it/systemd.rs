//! `Type=notify`: the relay's notifier against a datagram socket of the test's own.

use std::collections::HashMap;
use std::time::Duration;

use relay::systemd::SdNotify;
use tokio::net::UnixDatagram;
use tokio_util::sync::CancellationToken;

fn env(socket: &str, watchdog_usec: &str) -> HashMap<String, String> {
    HashMap::from([
        ("NOTIFY_SOCKET".to_string(), socket.to_string()),
        ("WATCHDOG_USEC".to_string(), watchdog_usec.to_string()),
    ])
}

/// One datagram; a guard timeout turns a missing message into a failure instead of a hang.
async fn recv(socket: &UnixDatagram) -> String {
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(60), socket.recv(&mut buf))
        .await
        .expect("no datagram from the notifier")
        .unwrap();
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

fn lines(message: &str) -> Vec<&str> {
    message.lines().collect()
}

#[tokio::test(start_paused = true)]
async fn ready_then_watchdog_then_stopping_on_a_path_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    let sd = SdNotify::from_env_map(&env(path.to_str().unwrap(), "30000000"))
        .unwrap()
        .expect("NOTIFY_SOCKET is set");

    sd.ready().unwrap();
    assert!(lines(&recv(&socket).await).contains(&"READY=1"));

    let shutdown = CancellationToken::new();
    let supervisor = tokio::spawn(sd.supervise(shutdown.clone()));
    let started = tokio::time::Instant::now();
    // Paused clock: the runtime jumps to each tick as soon as everything else is idle.
    assert_eq!(recv(&socket).await, "WATCHDOG=1");
    assert_eq!(recv(&socket).await, "WATCHDOG=1");
    let second_ping = started.elapsed();
    assert!(
        second_ping >= Duration::from_secs(15) && second_ping < Duration::from_secs(16),
        "pings are WATCHDOG_USEC/2 apart, second came at {second_ping:?}"
    );

    shutdown.cancel();
    assert!(lines(&recv(&socket).await).contains(&"STOPPING=1"));
    supervisor.await.unwrap();
}

#[tokio::test]
async fn abstract_socket_names_are_supported() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::SocketAddr;

    let name = format!("session-push-relay-test-{}", std::process::id());
    let addr = SocketAddr::from_abstract_name(&name).unwrap();
    let std_socket = std::os::unix::net::UnixDatagram::bind_addr(&addr).unwrap();
    std_socket.set_nonblocking(true).unwrap();
    let socket = UnixDatagram::from_std(std_socket).unwrap();

    let sd = SdNotify::from_env_map(&env(&format!("@{name}"), "2000000"))
        .unwrap()
        .expect("NOTIFY_SOCKET is set");
    sd.ready().unwrap();
    assert!(lines(&recv(&socket).await).contains(&"READY=1"));
    sd.notify("WATCHDOG=1").unwrap();
    assert_eq!(recv(&socket).await, "WATCHDOG=1");
}

#[tokio::test]
async fn a_vanished_socket_is_a_send_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gone.sock");
    let sd = SdNotify::from_env_map(&env(path.to_str().unwrap(), "1000000"))
        .unwrap()
        .unwrap();
    assert!(sd.ready().is_err());
}
