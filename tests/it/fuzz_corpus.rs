//! Replays every checked-in fuzz corpus file (`fuzz/corpus/<target>/`) through the same entry
//! points the cargo-fuzz targets call (`relay::fuzzing`), on stable: an input that once
//! crashed a parser, or that the fuzzer kept for its coverage, fails CI if it panics again.
//! FUZZING.md says how the corpora are grown and minimised.

use std::path::{Path, PathBuf};

use relay::api::JsonEndpoint;
use relay::fuzzing;

/// A fuzz target's name and the entry point it calls.
type Target = (&'static str, fn(&[u8]));

/// Each fuzz target and what it calls; a corpus directory without an entry here fails.
const TARGETS: &[Target] = &[
    ("onion_request", fuzzing::onion_request),
    ("onion_inner", fuzzing::onion_inner),
    ("subscribe_json", subscribe_json),
    ("notify_message", fuzzing::notify_message),
    ("monitor_reply", fuzzing::monitor_reply),
    ("node_list", fuzzing::node_list),
    ("config_toml", fuzzing::config_toml),
];

/// As `fuzz/fuzz_targets/subscribe_json.rs`: the first byte picks the endpoint.
fn subscribe_json(data: &[u8]) {
    if let Some((first, body)) = data.split_first() {
        let endpoint = if first % 2 == 1 {
            JsonEndpoint::Subscribe
        } else {
            JsonEndpoint::Unsubscribe
        };
        fuzzing::subscribe_json(endpoint, body);
    }
}

fn corpus_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus")
}

#[test]
fn every_corpus_file_replays_without_a_panic() -> anyhow::Result<()> {
    relay::crypto::init()?;
    let mut dirs: Vec<String> = std::fs::read_dir(corpus_root())?
        .map(|e| Ok(e?.file_name().to_string_lossy().into_owned()))
        .collect::<anyhow::Result<_>>()?;
    dirs.sort();
    let mut known: Vec<String> = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    known.sort();
    assert_eq!(dirs, known, "one corpus directory per fuzz target");

    for (name, run) in TARGETS {
        let mut files = 0;
        for entry in std::fs::read_dir(corpus_root().join(name))? {
            let path = entry?.path();
            let input = std::fs::read(&path)?;
            let replay = std::panic::catch_unwind(|| run(&input));
            assert!(replay.is_ok(), "{} panics", path.display());
            files += 1;
        }
        assert!(files > 0, "{name} has no corpus");
    }
    Ok(())
}

/// Writes the hand-made seeds each corpus started from (kept in the corpora under `seed-*`
/// names). Run by hand after a protocol change: `cargo test --test it write_fuzz_seeds --
/// --ignored`.
#[test]
#[ignore = "writes fuzz/corpus/*/seed-*; run by hand (FUZZING.md)"]
fn write_fuzz_seeds() -> anyhow::Result<()> {
    seeds::write(&corpus_root())
}

mod seeds {
    use std::path::Path;

    use devnet::onion_client::{ClientEncType, OnionClient};
    use relay::crypto::KeyPair;
    use relay::fuzzing::ONION_SECRET;
    use serde_json::{json, Value};

    use crate::support::vectors;

    fn put(root: &Path, target: &str, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(format!("seed-{name}")), bytes)?;
        Ok(())
    }

    /// `l<len>:<meta>[<len>:<body>]e`.
    fn inner(method: &str, endpoint: &str, body: Option<&[u8]>) -> Vec<u8> {
        let meta = json!({"method": method, "endpoint": endpoint, "headers": {}}).to_string();
        let mut out = format!("l{}:{meta}", meta.len()).into_bytes();
        if let Some(body) = body {
            out.extend(format!("{}:", body.len()).bytes());
            out.extend(body);
        }
        out.push(b'e');
        out
    }

    fn bytes_field(key: &str, value: &[u8]) -> Vec<u8> {
        let mut out = format!("{}:{key}{}:", key.len(), value.len()).into_bytes();
        out.extend(value);
        out
    }

    pub fn write(root: &Path) -> anyhow::Result<()> {
        relay::crypto::init()?;
        let sub05 = vectors::subscribe_05().to_string();
        let sub03 = vectors::subscribe_03().to_string();
        let unsub05 = vectors::unsubscribe_05().to_string();
        let both = Value::Array(vec![vectors::subscribe_05(), vectors::subscribe_03()]).to_string();

        for (name, first, body) in [
            ("subscribe-05", 1u8, &sub05),
            ("subscribe-03-subaccount", 1, &sub03),
            ("unsubscribe-05", 0, &unsub05),
            ("subscribe-array", 1, &both),
        ] {
            let mut data = vec![first];
            data.extend(body.as_bytes());
            put(root, "subscribe_json", name, &data)?;
        }

        let sub_inner = inner("POST", "/subscribe", Some(sub05.as_bytes()));
        put(root, "onion_inner", "subscribe", &sub_inner)?;
        let unsub = inner("POST", "/unsubscribe?x=1", Some(unsub05.as_bytes()));
        put(root, "onion_inner", "unsubscribe-query", &unsub)?;
        put(
            root,
            "onion_inner",
            "get-unknown",
            &inner("GET", "/%73tats", None),
        )?;

        let client = OnionClient::new(*KeyPair::from_secret(ONION_SECRET).public());
        for (name, enc) in [
            ("xchacha20", ClientEncType::XChaCha20),
            ("aes-gcm", ClientEncType::AesGcm),
        ] {
            let request = client.request(enc, "POST", "/subscribe", Some(sub05.as_bytes()))?;
            put(root, "onion_request", name, request.body())?;
        }

        let mut notify = b"d".to_vec();
        notify.extend(bytes_field("@", &[0x05; 33]));
        notify.extend(bytes_field(
            "h",
            b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        ));
        notify.extend(b"1:ni0e1:ti1700000000000e1:zi1701209600000e");
        notify.extend(bytes_field("~", b"message data"));
        notify.push(b'e');
        put(root, "notify_message", "with-data", &notify)?;

        put(
            root,
            "monitor_reply",
            "ok-and-failed",
            b"ld7:successi1eed7:errcodei5e5:error13:bad signatureee",
        )?;
        put(root, "monitor_reply", "one-dict", b"d7:successi1ee")?;

        let nodes = json!({
            "service_node_states": [
                {"pubkey_x25519": "11".repeat(32), "public_ip": "10.0.0.1",
                 "storage_lmq_port": 22020, "swarm_id": 18_446_744_073_709_551_614u64},
                {"pubkey_x25519": "22".repeat(32), "public_ip": "0.0.0.0",
                 "storage_lmq_port": 0, "swarm_id": 5}
            ],
            "block_hash": "00ff"
        });
        put(root, "node_list", "two-nodes", nodes.to_string().as_bytes())?;

        let readme =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))?;
        for (n, block) in readme.split("```toml\n").skip(1).enumerate() {
            let toml = block.split("```").next().unwrap_or_default();
            put(root, "config_toml", &format!("readme-{n}"), toml.as_bytes())?;
        }
        Ok(())
    }
}
