use std::collections::HashMap;

use super::*;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_start_on_a_fresh_machine() {
    let c = Config::load_from(None, HashMap::new()).unwrap();
    assert_eq!(c.api.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.api.max_body_bytes, 100_000);
    assert_eq!(c.admin.listen.to_string(), "127.0.0.1:9090");
    assert_eq!(c.database.url.expose(), "sqlite://data/relay.db");
    assert_eq!(c.database.max_connections, 16);
    assert_eq!(c.keys.dir, std::path::PathBuf::from("data/keys"));
    assert_eq!(c.swarm.oxend, "");
    assert_eq!(
        (c.swarm.resubscribe_min_secs, c.swarm.resubscribe_max_secs),
        (2700, 3300)
    );
    assert_eq!(c.swarm.max_pending_connects, 500);
    assert_eq!(c.swarm.dedup_window_secs, 600);
    assert!(c.services.is_empty());
    assert_eq!(c.log.format, LogFormat::Pretty);
}

#[test]
fn file_then_environment() {
    let toml = "[api]\nlisten = \"0.0.0.0:1234\"\n[[services]]\nname = \"dummy\"\nkind = \"log\"\n";
    let c = Config::load_from(
        Some(toml),
        env(&[
            ("SPR_DATABASE__URL", "postgres://u@h/db"),
            ("SPR_SWARM__DEDUP_WINDOW_SECS", "5"),
        ]),
    )
    .unwrap();
    assert_eq!(c.api.listen.port(), 1234);
    assert_eq!(c.database.url.expose(), "postgres://u@h/db");
    assert_eq!(c.swarm.dedup_window_secs, 5);
    assert_eq!(c.services[0].name(), "dummy");
    assert_eq!(c.services[0].kind(), "log");
    assert!(
        !format!("{:?}", c.database).contains("postgres://"),
        "database URL is a secret"
    );
}

#[test]
fn unknown_keys_are_named() {
    let e = Config::load_from(Some("[api]\nlisten_addr = \"x\"\n"), HashMap::new()).unwrap_err();
    assert_eq!(e.key, "api.listen_addr");
    let e = Config::load_from(Some("[nope]\nx = 1\n"), HashMap::new()).unwrap_err();
    assert_eq!(e.key, "nope");
    let e = Config::load_from(
        Some("[[services]]\nname=\"d\"\nkind=\"log\"\ntopic=\"x\"\n"),
        HashMap::new(),
    )
    .unwrap_err();
    assert_eq!(e.key, "services[0].topic");
    let e = Config::load_from(None, env(&[("SPR_API__BOGUS", "1")])).unwrap_err();
    assert_eq!(e.key, "api.bogus");
}

#[test]
fn bad_values_are_named() {
    let e = Config::load_from(Some("[api]\nlisten = \"not an address\"\n"), HashMap::new())
        .unwrap_err();
    assert_eq!(e.key, "api.listen", "{e}");
    let e = Config::load_from(
        Some("[swarm]\nmax_pending_connects = \"many\"\n"),
        HashMap::new(),
    )
    .unwrap_err();
    assert_eq!(e.key, "swarm.max_pending_connects", "{e}");
    let e = Config::load_from(Some("[log]\nformat = \"xml\"\n"), HashMap::new()).unwrap_err();
    assert_eq!(e.key, "log.format", "{e}");
    let e =
        Config::load_from(Some("[database]\nurl = \"mysql://x\"\n"), HashMap::new()).unwrap_err();
    assert_eq!(e.key, "database.url");
    let e = Config::load_from(Some("[swarm]\noxend = \"ftp://x\"\n"), HashMap::new()).unwrap_err();
    assert_eq!(e.key, "swarm.oxend");
}

#[test]
fn missing_credentials_are_named() {
    let toml = "[[services]]\nname = \"apns\"\nkind = \"apns\"\nkey_file = \"/nonexistent/k.p8\"\nkey_id = \"ABCDEFGHIJ\"\nteam_id = \"ABCDEFGHIJ\"\n";
    let e = Config::load_from(Some(toml), HashMap::new()).unwrap_err();
    assert_eq!(e.key, "services[0].key_file");
    let toml = "[[services]]\nname = \"firebase\"\nkind = \"fcm\"\n";
    let e = Config::load_from(Some(toml), HashMap::new()).unwrap_err();
    assert_eq!(e.key, "services[0].service_account_file");
    let toml = "[[services]]\nname = \"huawei\"\nkind = \"hms\"\napp_id = \"1\"\n";
    let e = Config::load_from(Some(toml), HashMap::new()).unwrap_err();
    assert_eq!(e.key, "services[0].app_secret");
    let toml =
        "[[services]]\nname = \"a\"\nkind = \"log\"\n[[services]]\nname = \"a\"\nkind = \"log\"\n";
    let e = Config::load_from(Some(toml), HashMap::new()).unwrap_err();
    assert_eq!(e.key, "services[1].name");
}

#[test]
fn error_is_one_line() {
    let e = Config::load_from(Some("[api]\nlisten = 5\n"), HashMap::new()).unwrap_err();
    assert!(!e.to_string().contains('\n'));
    assert!(e.to_string().contains("api.listen"));
}

#[test]
fn api_edge_keys_have_defaults_and_are_validated() {
    let c = Config::load_from(None, HashMap::new()).unwrap();
    assert_eq!(c.api.header_read_timeout_secs, 10);
    assert_eq!(c.api.idle_timeout_secs, 60);
    assert_eq!(c.api.shutdown_grace_secs, 10);
    assert_eq!(c.api.max_connections, 4096);
    assert_eq!(c.api.max_buffered_body_bytes, 64 * 1024 * 1024);
    assert_eq!(c.api.account_rate_per_minute, 30);
    let c = Config::load_from(
        Some("[api]\nshutdown_grace_secs = 3\nmax_connections = 7\n"),
        env(&[("SPR_API__ACCOUNT_RATE_PER_MINUTE", "5")]),
    )
    .unwrap();
    assert_eq!(c.api.shutdown_grace_secs, 3);
    assert_eq!(c.api.max_connections, 7);
    assert_eq!(c.api.account_rate_per_minute, 5);
    for (toml, key) in [
        (
            "[api]\nheader_read_timeout_secs = 0\n",
            "api.header_read_timeout_secs",
        ),
        ("[api]\nidle_timeout_secs = 0\n", "api.idle_timeout_secs"),
        (
            "[api]\nshutdown_grace_secs = 7200\n",
            "api.shutdown_grace_secs",
        ),
        ("[api]\nmax_connections = 0\n", "api.max_connections"),
        (
            "[api]\nmax_buffered_body_bytes = 1000\n",
            "api.max_buffered_body_bytes",
        ),
        (
            "[api]\naccount_rate_per_minute = 0\n",
            "api.account_rate_per_minute",
        ),
    ] {
        let err = Config::load_from(Some(toml), HashMap::new()).unwrap_err();
        assert_eq!(err.key, key, "{toml}");
    }
}
