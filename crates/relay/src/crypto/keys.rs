//! The relay's key files: `onion.key`, `swarm.key`, `storage.key` in `[keys] dir`.
//!
//! Each file holds a 32-byte secret, raw or as 64 hex characters (so operators can paste a key
//! into a Kubernetes secret). Missing files are created with mode 0600; existing ones are never
//! overwritten.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{blake2b_keyed, random_array, x25519_base, CryptoError};

/// Personalises the per-replica key derivation, so the derived secret is used for nothing else.
const REPLICA_KEY_CONTEXT: &[u8] = b"session-push-relay replica swarm key v1";

/// An X25519 key pair. `Debug` shows only the public key.
#[derive(Clone)]
pub struct KeyPair {
    secret: [u8; 32],
    public: [u8; 32],
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyPair(public={})", hex::encode(self.public))
    }
}

impl KeyPair {
    /// A key pair from its secret scalar.
    pub fn from_secret(secret: [u8; 32]) -> Self {
        KeyPair {
            secret,
            public: x25519_base(&secret),
        }
    }

    /// A fresh random key pair.
    pub fn generate() -> Self {
        Self::from_secret(random_array())
    }

    /// The secret scalar (for X25519 and CURVE; never log it).
    pub fn secret(&self) -> &[u8; 32] {
        &self.secret
    }

    /// The public key.
    pub fn public(&self) -> &[u8; 32] {
        &self.public
    }

    /// A key pair of its own for the cluster replica `node_id`: secret = BLAKE2b-256 keyed with
    /// this secret over a context string and `node_id` (the way upstream derives its notifiers'
    /// keys from its own). Replicas sharing `swarm.key` thus show storage servers distinct CURVE
    /// keys and routing ids (PROTOCOL §7.1: overlapping replicas MUST use distinct keys), while
    /// a restarted replica with the same `node_id` keeps its identity.
    pub fn derive_replica(&self, node_id: &str) -> KeyPair {
        let secret = blake2b_keyed::<32>(
            &self.secret,
            &[REPLICA_KEY_CONTEXT, &[0], node_id.as_bytes()],
        );
        KeyPair::from_secret(secret)
    }
}

/// All keys the relay holds.
#[derive(Clone, Debug)]
pub struct RelayKeys {
    /// Decrypts v4 onion requests; its public key is what clients are configured with.
    pub onion: KeyPair,
    /// The relay's OxenMQ CURVE identity towards storage servers and oxend.
    pub swarm: KeyPair,
    /// Seals device tokens at rest and keys their lookup hash.
    pub storage: StorageKey,
}

/// The at-rest sealing key. `Debug` never prints it.
#[derive(Clone)]
pub struct StorageKey(pub [u8; 32]);

impl std::fmt::Debug for StorageKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StorageKey(***)")
    }
}

impl RelayKeys {
    /// Loads the three key files from `dir`, creating any that are missing (and `dir` itself).
    pub fn load_or_create(dir: &Path) -> Result<Self, CryptoError> {
        std::fs::create_dir_all(dir).map_err(|e| key_error(dir, &e.to_string()))?;
        Ok(RelayKeys {
            onion: KeyPair::from_secret(load_or_create_secret(&dir.join("onion.key"))?),
            swarm: KeyPair::from_secret(load_or_create_secret(&dir.join("swarm.key"))?),
            storage: StorageKey(load_or_create_secret(&dir.join("storage.key"))?),
        })
    }

    /// Loads only `storage.key` from `dir`, never creating it: tools that write the relay's
    /// store from outside (import-spns) must seal with the key the relay already has.
    pub fn load_storage(dir: &Path) -> Result<StorageKey, CryptoError> {
        let path = dir.join("storage.key");
        if !path.exists() {
            return Err(key_error(
                &path,
                "missing: use the relay's [keys] dir (run `keygen` first on a new install)",
            ));
        }
        Ok(StorageKey(load_or_create_secret(&path)?))
    }

    /// Fresh in-memory keys (tests, devnet).
    pub fn generate() -> Self {
        RelayKeys {
            onion: KeyPair::generate(),
            swarm: KeyPair::generate(),
            storage: StorageKey(random_array()),
        }
    }
}

fn key_error(path: &Path, reason: &str) -> CryptoError {
    CryptoError::KeyFile {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

fn load_or_create_secret(path: &Path) -> Result<[u8; 32], CryptoError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            check_private(path)?;
            let secret = parse_secret(&bytes)
                .ok_or_else(|| key_error(path, "expected 32 raw bytes or 64 hex characters"))?;
            if secret == [0u8; 32] {
                return Err(key_error(path, "the key is all zeros"));
            }
            Ok(secret)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_secret(path),
        Err(e) => Err(key_error(path, &e.to_string())),
    }
}

/// Refuses a key file that group or others may read or write (issue 16).
fn check_private(path: &Path) -> Result<(), CryptoError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| key_error(path, &e.to_string()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(key_error(
            path,
            &format!(
                "mode {:o} lets group/others access it (chmod 600)",
                mode & 0o777
            ),
        ));
    }
    Ok(())
}

fn parse_secret(bytes: &[u8]) -> Option<[u8; 32]> {
    if let Ok(raw) = <[u8; 32]>::try_from(bytes) {
        return Some(raw);
    }
    let text = std::str::from_utf8(bytes).ok()?.trim();
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

fn create_secret(path: &Path) -> Result<[u8; 32], CryptoError> {
    let secret: [u8; 32] = random_array();
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| key_error(path, &e.to_string()))?;
    file.write_all(&secret)
        .and_then(|()| file.sync_all())
        .map_err(|e| key_error(path, &e.to_string()))?;
    Ok(secret)
}

/// The path of the onion key inside a key directory.
pub fn onion_key_path(dir: &Path) -> PathBuf {
    dir.join("onion.key")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_shared_and_all_zero_key_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("onion.key");
        std::fs::write(&path, [7u8; 32]).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = load_or_create_secret(&path).unwrap_err().to_string();
        assert!(err.contains("onion.key") && err.contains("640"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(load_or_create_secret(&path).unwrap(), [7u8; 32]);
        std::fs::write(&path, [0u8; 32]).unwrap();
        let err = load_or_create_secret(&path).unwrap_err().to_string();
        assert!(err.contains("all zeros"), "{err}");
    }

    #[test]
    fn created_once_with_0600_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let first = RelayKeys::load_or_create(dir.path()).unwrap();
        let second = RelayKeys::load_or_create(dir.path()).unwrap();
        assert_eq!(first.onion.public(), second.onion.public());
        assert_eq!(first.swarm.public(), second.swarm.public());
        assert_eq!(first.storage.0, second.storage.0);
        assert_ne!(first.onion.public(), first.swarm.public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(onion_key_path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn hex_key_files_accepted_and_garbage_rejected() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("onion.key"),
            format!("{}\n", "11".repeat(32)),
        )
        .unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            let private = std::fs::Permissions::from_mode(0o600);
            std::fs::set_permissions(dir.path().join("onion.key"), private).unwrap();
        }
        let keys = RelayKeys::load_or_create(dir.path()).unwrap();
        assert_eq!(keys.onion.secret(), &[0x11u8; 32]);
        std::fs::write(dir.path().join("swarm.key"), b"short").unwrap();
        assert!(matches!(
            RelayKeys::load_or_create(dir.path()),
            Err(CryptoError::KeyFile { .. })
        ));
    }

    /// Upstream SPNS keeps its `[keys] onionreq` X25519 secret as 32 raw bytes (or 64 hex):
    /// copied to `onion.key` either way, it gives the same public key clients already know.
    #[test]
    fn upstream_onionreq_file_raw_or_hex_gives_the_same_public_key() {
        let secret: [u8; 32] = std::array::from_fn(|i| i as u8 * 7 + 1);
        let raw = tempfile::tempdir().unwrap();
        std::fs::write(onion_key_path(raw.path()), secret).unwrap();
        let hex_dir = tempfile::tempdir().unwrap();
        std::fs::write(onion_key_path(hex_dir.path()), hex::encode(secret)).unwrap();
        // Key files must be private (the relay refuses group/world-readable ones).
        for dir in [raw.path(), hex_dir.path()] {
            use std::os::unix::fs::PermissionsExt;
            let perms = std::fs::Permissions::from_mode(0o600);
            std::fs::set_permissions(onion_key_path(dir), perms).unwrap();
        }
        let from_raw = RelayKeys::load_or_create(raw.path()).unwrap();
        let from_hex = RelayKeys::load_or_create(hex_dir.path()).unwrap();
        assert_eq!(from_raw.onion.secret(), &secret);
        assert_eq!(from_raw.onion.public(), from_hex.onion.public());
        assert_eq!(from_raw.onion.public(), &x25519_base(&secret));
        // The raw file is left byte for byte as it was.
        assert_eq!(std::fs::read(onion_key_path(raw.path())).unwrap(), secret);
    }

    #[test]
    fn replica_keys_are_distinct_stable_and_not_the_shared_key() {
        let shared = KeyPair::from_secret([9; 32]);
        let a = shared.derive_replica("relay-0");
        let b = shared.derive_replica("relay-1");
        assert_ne!(a.public(), b.public());
        assert_ne!(a.public(), shared.public());
        assert_eq!(a.public(), shared.derive_replica("relay-0").public());
        assert_eq!(a.public(), &x25519_base(a.secret()));
        // Another shared key gives other replica keys for the same node id.
        let other = KeyPair::from_secret([8; 32]).derive_replica("relay-0");
        assert_ne!(a.public(), other.public());
    }
}
