//! The binary's small commands as a shell runs them.

use std::process::{Command, Stdio};

const BINARY: &str = env!("CARGO_BIN_EXE_session-push-relay");

/// `keygen | head -c0`: stdout is a pipe nobody reads, so every write fails with EPIPE (the Rust
/// runtime ignores SIGPIPE). The keys are on disk; that is not an error (issue 16: it panicked).
#[test]
fn keygen_into_a_closed_pipe_exits_0() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (reader, writer) = std::io::pipe()?;
    drop(reader); // closed before the child starts: deterministic EPIPE
    let output = Command::new(BINARY)
        .args(["keygen", "--dir"])
        .arg(dir.path())
        .stdout(writer)
        .stderr(Stdio::piped())
        .env_remove("RUST_LOG")
        .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        std::fs::read_dir(dir.path())?.count() >= 2,
        "the keys were written"
    );
    Ok(())
}
