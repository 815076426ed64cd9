//! The shipped Grafana dashboard and Prometheus rules parse, and use only metrics the relay
//! exports (`admin::metrics::NAMES`).

use std::path::PathBuf;

use relay::admin::metrics::NAMES;
use serde_json::Value;

fn deploy(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(path)
}

/// Every metric-like identifier (`relay_…`, `process_…`) in a PromQL expression, with the
/// histogram suffixes of exported histograms stripped.
fn metrics_in(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in expr.chars().chain([' ']) {
        if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            word.push(c);
            continue;
        }
        if word.starts_with("relay_") || word.starts_with("process_") {
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| word.strip_suffix(s).filter(|b| NAMES.contains(b)))
                .unwrap_or(&word);
            out.push(base.to_string());
        }
        word.clear();
    }
    out
}

fn check_exprs(source: &str, exprs: &[String]) -> Vec<String> {
    assert!(!exprs.is_empty(), "{source}: no expressions found");
    let mut used = Vec::new();
    for expr in exprs {
        for name in metrics_in(expr) {
            assert!(
                NAMES.contains(&name.as_str()),
                "{source} uses {name}, which the relay does not export: {expr}"
            );
            used.push(name);
        }
    }
    used
}

fn collect_exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr", Value::String(s)) => out.push(s.clone()),
                    _ => collect_exprs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_exprs(i, out)),
        _ => {}
    }
}

#[test]
fn suffix_stripping_only_applies_to_histograms() {
    assert_eq!(
        metrics_in("rate(relay_end_to_end_seconds_bucket[5m]) + relay_bogus_count"),
        vec!["relay_end_to_end_seconds", "relay_bogus_count"]
    );
}

#[test]
fn grafana_dashboard_uses_only_exported_metrics() -> anyhow::Result<()> {
    let text = std::fs::read_to_string(deploy("grafana/session-push-relay.json"))?;
    let dash: Value = serde_json::from_str(&text)?;
    let vars = dash["templating"]["list"].as_array().expect("templating");
    assert!(
        vars.iter()
            .any(|v| v["type"] == "datasource" && v["name"] == "DS_PROMETHEUS"),
        "a datasource variable"
    );
    assert!(text.contains("${DS_PROMETHEUS}"));
    let mut exprs = Vec::new();
    collect_exprs(&dash["panels"], &mut exprs);
    let used = check_exprs("dashboard", &exprs);
    // The panels the on-call engineer needs (issue 6).
    for required in [
        "relay_subscriptions",
        "relay_push_total",
        "relay_push_failures_total",
        "relay_end_to_end_seconds",
        "relay_push_queue_depth",
        "relay_push_queue_wait_seconds",
        "relay_swarms_connected",
        "relay_tokens_removed_total",
        "relay_breaker_open",
        "relay_credential_expiry_timestamp_seconds",
    ] {
        assert!(
            used.iter().any(|u| u == required),
            "no panel shows {required}"
        );
    }
    Ok(())
}

#[test]
fn alert_rules_use_only_exported_metrics() -> anyhow::Result<()> {
    let text = std::fs::read_to_string(deploy("prometheus/alerts.yml"))?;
    let rules: Value = serde_norway::from_str(&text)?;
    let mut exprs = Vec::new();
    let mut alerts = Vec::new();
    for group in rules["groups"].as_array().expect("groups") {
        assert!(group["name"].is_string());
        for rule in group["rules"].as_array().expect("rules") {
            alerts.push(rule["alert"].as_str().expect("alert name").to_string());
            exprs.push(rule["expr"].as_str().expect("expr").to_string());
            assert!(rule["labels"]["severity"].is_string(), "{rule}");
        }
    }
    let used = check_exprs("alerts.yml", &exprs);
    for required in [
        "RelayProviderErrorRate",
        "RelayBreakerOpen",
        "RelayCredentialExpiringSoon",
        "RelaySwarmConnectivityLow",
        "RelayQueueWaitHigh",
        "RelayNotReady",
    ] {
        assert!(alerts.iter().any(|a| a == required), "no {required} alert");
    }
    assert!(used.iter().any(|u| u == "relay_ready"));
    Ok(())
}

/// The chart renders every key the relay accepts: its list (one key per line, as printed by
/// `session-push-relay check-config --list-keys`; `#` comments and blank lines ignored) equals
/// `Config::keys()`.
#[test]
#[cfg_attr(
    not(prereq_chart_keys),
    ignore = "helm/session-push-relay/config-keys.txt is absent (the chart's key list)"
)]
fn chart_key_list_matches_the_relay() -> anyhow::Result<()> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("helm/session-push-relay/config-keys.txt");
    let text = std::fs::read_to_string(&path)?;
    // The chart writes `services.key` for the relay's `services[].key`.
    let chart: std::collections::BTreeSet<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.strip_prefix("services.") {
            Some(key) => format!("services[].{key}"),
            None => l.to_owned(),
        })
        .collect();
    // Secrets reach the chart's pods only as mounted files (their `*_file` keys), never inline.
    const FILE_ONLY: [&str; 3] = [
        "admin.token",
        "services[].certificate_password",
        "services[].app_secret",
    ];
    let relay: std::collections::BTreeSet<String> = relay::config::Config::keys()
        .into_iter()
        .filter(|k| !FILE_ONLY.contains(&k.as_str()))
        .collect();
    let missing: Vec<_> = relay.difference(&chart).collect();
    let unknown: Vec<_> = chart.difference(&relay).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "{}: missing keys {missing:?}, keys the relay does not accept {unknown:?}",
        path.display()
    );
    Ok(())
}
