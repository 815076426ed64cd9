use std::collections::HashMap;

use super::*;

use crate::test_support::env;

/// The error of loading `toml` with an empty environment.
fn file_error(toml: &str) -> ConfigError {
    Config::load_from(Some(toml), HashMap::new()).unwrap_err()
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
    let e = file_error("[api]\nlisten_addr = \"x\"\n");
    assert_eq!(e.key, "api.listen_addr");
    let e = file_error("[nope]\nx = 1\n");
    assert_eq!(e.key, "nope");
    let e = file_error("[[services]]\nname=\"d\"\nkind=\"log\"\ntopic=\"x\"\n");
    assert_eq!(e.key, "services[0].topic");
    let e = Config::load_from(None, env(&[("SPR_API__BOGUS", "1")])).unwrap_err();
    assert_eq!(e.key, "api.bogus");
}

#[test]
fn bad_values_are_named() {
    let e = file_error("[api]\nlisten = \"not an address\"\n");
    assert_eq!(e.key, "api.listen", "{e}");
    let e = file_error("[swarm]\nmax_pending_connects = \"many\"\n");
    assert_eq!(e.key, "swarm.max_pending_connects", "{e}");
    let e = file_error("[log]\nformat = \"xml\"\n");
    assert_eq!(e.key, "log.format", "{e}");
    let e = file_error("[database]\nurl = \"mysql://x\"\n");
    assert_eq!(e.key, "database.url");
    let e = file_error("[swarm]\noxend = \"ftp://x\"\n");
    assert_eq!(e.key, "swarm.oxend");
}

#[test]
fn missing_credentials_are_named() {
    let toml = "[[services]]\nname = \"apns\"\nkind = \"apns\"\nkey_file = \"/nonexistent/k.p8\"\nkey_id = \"ABCDEFGHIJ\"\nteam_id = \"ABCDEFGHIJ\"\n";
    let e = file_error(toml);
    assert_eq!(e.key, "services[0].key_file");
    let toml = "[[services]]\nname = \"firebase\"\nkind = \"fcm\"\n";
    let e = file_error(toml);
    assert_eq!(e.key, "services[0].service_account_file");
    let toml = "[[services]]\nname = \"huawei\"\nkind = \"hms\"\napp_id = \"1\"\n";
    let e = file_error(toml);
    assert_eq!(e.key, "services[0].app_secret");
    let toml =
        "[[services]]\nname = \"a\"\nkind = \"log\"\n[[services]]\nname = \"a\"\nkind = \"log\"\n";
    let e = file_error(toml);
    assert_eq!(e.key, "services[1].name");
}

#[test]
fn error_is_one_line() {
    let e = file_error("[api]\nlisten = 5\n");
    assert!(!e.to_string().contains('\n'));
    assert!(e.to_string().contains("api.listen"));
}

#[test]
fn kubernetes_service_links_are_ignored_and_named() {
    // What Kubernetes injects for a Service named `spr` (enableServiceLinks defaults to true).
    let c = Config::load_from(
        None,
        env(&[
            ("SPR_PORT", "tcp://10.0.0.7:8080"),
            ("SPR_PORT_8080_TCP", "tcp://10.0.0.7:8080"),
            ("SPR_PORT_8080_TCP_PROTO", "tcp"),
            ("SPR_SERVICE_HOST", "10.0.0.7"),
            ("SPR_SERVICE_PORT", "8080"),
            ("SPR_SERVICE_PORT_HTTP", "8080"),
            ("SPR_SWARM__DEDUP_WINDOW_SECS", "7"),
        ]),
    )
    .unwrap();
    assert_eq!(
        c.swarm.dedup_window_secs, 7,
        "SPR_<SECTION>__<KEY> still applies"
    );
    assert_eq!(
        c.ignored_env,
        [
            "SPR_PORT",
            "SPR_PORT_8080_TCP",
            "SPR_PORT_8080_TCP_PROTO",
            "SPR_SERVICE_HOST",
            "SPR_SERVICE_PORT",
            "SPR_SERVICE_PORT_HTTP"
        ]
    );
    // A double-underscore name is configuration, so a typo in it is still an error.
    let e = Config::load_from(None, env(&[("SPR_SERVCE__X", "1")])).unwrap_err();
    assert_eq!(e.key, "servce");
}

fn secret_file(content: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut f, content.as_bytes()).unwrap();
    f
}

#[test]
fn secrets_can_be_files() {
    let url = secret_file("postgres://u:pw@h/db\n");
    let token = secret_file("s3cret-token\r\n");
    let password = secret_file("p12-password");
    let app_secret = secret_file("hms-secret\n");
    let cert = secret_file("not really a p12");
    let toml = format!(
        "[admin]\ntoken_file = {token:?}\n\
         [[services]]\nname = \"apns\"\nkind = \"apns\"\ncertificate_file = {cert:?}\n\
         certificate_password_file = {password:?}\n\
         [[services]]\nname = \"huawei\"\nkind = \"hms\"\napp_id = \"1\"\napp_secret_file = {app_secret:?}\n",
        token = token.path(),
        cert = cert.path(),
        password = password.path(),
        app_secret = app_secret.path(),
    );
    let path = url.path().display().to_string();
    let c = Config::load_from(Some(&toml), env(&[("SPR_DATABASE__URL_FILE", &path)])).unwrap();
    assert_eq!(c.database.url.expose(), "postgres://u:pw@h/db");
    assert_eq!(c.admin.token.expose(), "s3cret-token", "\\r\\n trimmed");
    let ServiceConfig::Apns(apns) = &c.services[0] else {
        panic!("apns")
    };
    assert_eq!(apns.certificate_password.expose(), "p12-password");
    let ServiceConfig::Hms(hms) = &c.services[1] else {
        panic!("hms")
    };
    assert_eq!(hms.app_secret.expose(), "hms-secret");
}

/// The error of loading the TOML that `toml` writes around the path of a file holding `content`.
fn error_with_file(content: &str, toml: impl Fn(&std::path::Path) -> String) -> ConfigError {
    let file = secret_file(content);
    file_error(&toml(file.path()))
}

#[test]
fn a_secret_and_its_file_together_are_refused_without_printing_it() {
    let e = error_with_file("from-the-file\n", |path| {
        format!("[admin]\ntoken = \"inline\"\ntoken_file = {path:?}\n")
    });
    assert_eq!(e.key, "admin.token_file");
    assert!(e.reason.contains("not both"), "{e}");
    assert!(!e.to_string().contains("from-the-file"));
    assert!(!e.to_string().contains("inline"));

    let e = file_error("[database]\nurl_file = \"/nonexistent/db-url\"\n");
    assert_eq!(e.key, "database.url_file");
    assert!(!e.to_string().contains('\n'));

    let e = error_with_file("\n", |path| {
        format!("[[services]]\nname = \"h\"\nkind = \"hms\"\napp_id = \"1\"\napp_secret_file = {path:?}\n")
    });
    assert_eq!(e.key, "services[0].app_secret_file");

    // A file that holds a bad value: the error names the key, not the content.
    let bad = secret_file("mysql://root:hunter2@db/x\n");
    let path = bad.path().display().to_string();
    let e = Config::load_from(None, env(&[("SPR_DATABASE__URL_FILE", &path)])).unwrap_err();
    assert_eq!(e.key, "database.url");
    assert!(!e.to_string().contains("hunter2"), "{e}");
}

#[test]
fn every_secret_file_key_is_listed() {
    let keys = Config::keys();
    for k in [
        "database.url_file",
        "admin.token_file",
        "services[].certificate_password_file",
        "services[].app_secret_file",
        "api.listen",
        "services[].kind",
        "services[].priority",
        "services[].breaker_threshold",
    ] {
        assert!(
            keys.iter().any(|x| x == k),
            "{k} missing from Config::keys()"
        );
    }
    let mut sorted = keys.clone();
    sorted.dedup();
    assert_eq!(sorted, keys, "sorted and unique");
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
        let err = file_error(toml);
        assert_eq!(err.key, key, "{toml}");
    }
}

#[test]
fn too_big_form_defaults_per_kind_and_metadata_form_is_its_old_name() {
    use super::TooBigForm;
    let config = Config::load_from(
        Some(
            r#"
[[services]]
name = "fcm-default"
kind = "log"

[[services]]
name = "old-name"
kind = "log"
metadata_form = "dict"

[[services]]
name = "new-name"
kind = "log"
too_big_form = "dict"
"#,
        ),
        HashMap::new(),
    )
    .unwrap();
    let forms: Vec<_> = config.services.iter().map(|s| s.too_big_form()).collect();
    assert_eq!(
        forms,
        [TooBigForm::Json, TooBigForm::Dict, TooBigForm::Dict]
    );
    let both = Config::load_from(
        Some(
            "[[services]]\nname = \"x\"\nkind = \"log\"\ntoo_big_form = \"json\"\n\
             metadata_form = \"dict\"\n",
        ),
        HashMap::new(),
    );
    assert!(both.is_err());
    let bad = Config::load_from(
        Some("[[services]]\nname = \"x\"\nkind = \"log\"\ntoo_big_form = \"xml\"\n"),
        HashMap::new(),
    );
    assert!(bad.is_err());
}

#[test]
fn cluster_defaults_off_and_needs_postgres() {
    let c = Config::load_from(None, HashMap::new()).unwrap();
    assert!(!c.cluster.enabled);
    assert_eq!(c.cluster.node_id, "");
    assert_eq!(c.cluster.lease_secs, 15);
    let e = file_error("[cluster]\nenabled = true\n");
    assert_eq!(e.key, "cluster.enabled");
    assert!(!e.to_string().contains('\n'), "one line: {e}");
}

#[test]
fn cluster_node_id_defaults_to_the_host_name() {
    let toml = "[database]\nurl = \"postgres://u@h/db\"\n[cluster]\nenabled = true\n";
    let c = Config::load_from(Some(toml), env(&[("HOSTNAME", "relay-7f9c-2")])).unwrap();
    assert_eq!(c.cluster.node_id, "relay-7f9c-2");
    let c = Config::load_from(
        Some(toml),
        env(&[("HOSTNAME", "h"), ("SPR_CLUSTER__NODE_ID", "replica-b")]),
    )
    .unwrap();
    assert_eq!(c.cluster.node_id, "replica-b");
    // Off: nothing is resolved, the section stays as written.
    let c = Config::load_from(None, env(&[("HOSTNAME", "h")])).unwrap();
    assert_eq!(c.cluster.node_id, "");
}

#[test]
fn cluster_values_are_checked() {
    let pg = "[database]\nurl = \"postgres://u@h/db\"\n";
    for (section, key) in [
        ("[cluster]\nlease_secs = 1\n", "cluster.lease_secs"),
        ("[cluster]\nnode_id = \"a b\"\n", "cluster.node_id"),
        ("[cluster]\nnode_ids = \"a\"\n", "cluster.node_ids"),
    ] {
        let e = file_error(&format!("{pg}{section}"));
        assert_eq!(e.key, key, "{section}");
    }
}

#[test]
fn index_like_names_are_refused_before_they_reach_the_config_crate() {
    // The config_toml fuzz target's crash: `config` read the quoted key as an array index and
    // grew a vector to it (capacity overflow; smaller numbers: gigabytes).
    let crash = "[\"x[-000086129333770760283033]\"]\n";
    let e = file_error(crash);
    assert_eq!(e.key, "x[-000086129333770760283033]");
    let e = file_error("[api]\n\"listen[99999999]\" = 1\n");
    assert_eq!(e.key, "api.listen[99999999]");
    let e = file_error("[[services]]\nname = \"a\"\nkind = \"log\"\n\"x\\n[1]\" = 1\n");
    assert_eq!(e.key, "services[0].x\\n[1]", "escaped, one line");
    let e = Config::load_from(None, env(&[("SPR_API__LISTEN[70000000]", "x")])).unwrap_err();
    assert_eq!(e.key, "SPR_API__LISTEN[70000000]");
    // Other variables are not ours, whatever their names.
    assert!(Config::load_from(None, env(&[("my.var[3]", "x"), ("A-B", "y")])).is_ok());
    // Plain names still pass and a syntax error is still config's to report.
    assert!(Config::load_from(Some("[api]\nlisten = \"127.0.0.1:1\"\n"), HashMap::new()).is_ok());
    assert!(Config::load_from(Some("[api\n"), HashMap::new()).is_err());
}

#[test]
fn log_level_takes_directives_but_no_span_or_field_filters() {
    let level =
        |l: &str| Config::load_from(Some(&format!("[log]\nlevel = {l:?}\n")), HashMap::new());
    assert!(level("info").is_ok());
    assert!(level("relay=debug,warn").is_ok());
    assert!(level("relay::swarm=trace").is_ok());
    // The config_toml fuzz target's out-of-memory: a field filter EnvFilter compiles slowly.
    let e = level("info[s{q_secs=0deeei....f....}]").unwrap_err();
    assert_eq!(e.key, "log.level");
    assert_eq!(level("info now").unwrap_err().key, "log.level");
}
