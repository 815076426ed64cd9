//! The SQLite files on disk (issue 16): private to the relay's user.

use std::os::unix::fs::PermissionsExt;

use relay::store::{self, Upsert};

use super::KEY;
use crate::support::fixtures::{account, apns_token, subscription, NOW};

#[tokio::test]
async fn sqlite_database_wal_and_shm_are_created_0600() -> anyhow::Result<()> {
    relay::crypto::init()?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("relay.db");
    let store = store::open(&format!("sqlite://{}", path.display()), 2, &KEY).await?;
    let sub = subscription(account(1), "apns", &apns_token(1));
    assert_eq!(store.upsert(&sub, NOW).await?, Upsert::Added);

    // Checked while the pool is open: the WAL and shared-memory files exist only then.
    for name in ["relay.db", "relay.db-wal", "relay.db-shm"] {
        let mode = std::fs::metadata(dir.path().join(name))?
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{name} is {mode:o}");
    }
    drop(store);
    Ok(())
}
