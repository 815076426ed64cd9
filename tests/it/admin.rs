//! The admin listener: `/metrics`, `/health/*`, `/stats`, and the status page in a real
//! headless Chromium.

use std::future::IntoFuture;
use std::time::Duration;

use axum::http::StatusCode;
use relay::admin::metrics::{self as names, NAMES};
use relay::admin::{self, Sampler};
use relay::swarm::SwarmStatus;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::support::admin::{get, get_json, router, state, FakeStore};

fn swarm_status(loaded: bool, swarms: usize, connected: usize) -> SwarmStatus {
    SwarmStatus {
        node_list_loaded: loaded,
        swarms,
        snodes: swarms * 6,
        swarms_connected: connected,
        accounts_monitored: 42,
        connections: connected * 5,
        pending_connections: 1,
        ..SwarmStatus::default()
    }
}

#[tokio::test]
async fn metrics_lists_every_name_from_the_start() {
    let st = state(FakeStore::new(&[]), None, "");
    names::init_services(["svc-from-start"]);
    let (status, text) = get(&router(&st), "/metrics", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let series = |name: &str| -> Vec<&str> {
        text.lines()
            .filter(|l| {
                l.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with([' ', '{']) || rest.starts_with("_bucket"))
            })
            .collect()
    };
    for m in names::METRICS {
        let lines = series(m.name);
        let expected = !matches!(m.init, names::Init::OnEmit | names::Init::WhenKnown);
        if expected {
            assert!(
                !lines.is_empty(),
                "{} missing from /metrics:\n{text}",
                m.name
            );
        }
        // A labelled metric never has an unlabelled series (only `le` on buckets).
        if !m.labels.is_empty() {
            for line in lines {
                let labels = line.split_once('{').map_or("", |(_, rest)| rest);
                assert!(
                    m.labels.iter().any(|l| labels.contains(&format!("{l}=\""))),
                    "unlabelled series of {}: {line}",
                    m.name
                );
            }
        }
    }
    for name in [
        names::SUBSCRIPTIONS,
        names::PUSH_QUEUE_DEPTH,
        names::BREAKER_OPEN,
    ] {
        assert!(
            text.contains(&format!("{name}{{service=\"svc-from-start\"}} 0")),
            "{name} not initialised for the configured service:\n{text}"
        );
    }
    assert!(text.contains(&format!(
        "relay_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    )));
    assert!(text.contains("# TYPE relay_end_to_end_seconds histogram"));
    assert!(text.contains("le=\"0.0005\"") && text.contains("le=\"30\""));
}

#[test]
fn readme_metrics_table_is_the_generated_one() -> anyhow::Result<()> {
    let readme = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"),
    )?;
    let begin = "<!-- metrics table: generated from admin::metrics::METRICS -->\n";
    let end = "<!-- end of metrics table -->";
    let start = readme
        .find(begin)
        .expect("README has the metrics table marker")
        + begin.len();
    let stop = start + readme[start..].find(end).expect("end marker");
    let expected = names::markdown_table();
    assert!(
        readme[start..stop] == expected,
        "README metrics table is stale; replace it with:\n{expected}"
    );
    // Every metric name quoted in the README (`relay_…`, outside the table too) is exported.
    for (at, _) in readme.match_indices("`relay_") {
        let quoted = &readme[at + 1..];
        let word = quoted
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .next();
        let Some(word) = word.filter(|w| w.starts_with("relay_") && w.len() > 6) else {
            continue;
        };
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| word.strip_suffix(s).filter(|b| NAMES.contains(b)))
            .unwrap_or(word);
        assert!(
            NAMES.contains(&base),
            "README names {word}, which is not exported"
        );
    }
    Ok(())
}

#[tokio::test]
async fn ready_is_503_when_no_push_service_is_configured() {
    let mut st = state(FakeStore::new(&[]), None, "");
    st.push_services = Some(0);
    let (status, body) = get_json(&router(&st), "/health/ready", &[]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["database"], "ok");
    let why = body["services"].as_str().unwrap();
    assert!(why.contains("no push service configured"), "{why}");
    st.push_services = Some(2);
    let (status, body) = get_json(&router(&st), "/health/ready", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["services"], "ok");
}

#[tokio::test]
async fn ready_is_503_naming_the_database_when_ping_fails() {
    let store = FakeStore::new(&[]);
    let app = router(&state(store.clone(), None, ""));
    let (status, body) = get_json(&app, "/health/ready", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["database"], "ok");
    assert!(
        body.get("swarm").is_none(),
        "no swarm source, no swarm check"
    );

    store.set_healthy(false);
    let (status, body) = get_json(&app, "/health/ready", &[]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let why = body["database"].as_str().unwrap();
    assert!(why.starts_with("failing"), "{why}");

    // Liveness does not depend on the database.
    let (status, text) = get(&app, "/health/live", &[]).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "ok\n"));

    store.set_healthy(true);
    let (status, _) = get(&app, "/health/ready", &[]).await;
    assert_eq!(status, StatusCode::OK, "recovers with the database");
}

#[tokio::test]
async fn ready_follows_the_swarm_rule() {
    let (tx, rx) = watch::channel(SwarmStatus::default());
    let app = router(&state(FakeStore::new(&[]), Some(rx), ""));

    let (status, body) = get_json(&app, "/health/ready", &[]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["database"], "ok");
    assert!(body["swarm"]
        .as_str()
        .unwrap()
        .contains("node list not loaded"));

    tx.send(swarm_status(true, 10, 5)).unwrap();
    let (status, body) = get_json(&app, "/health/ready", &[]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "half is not most");
    assert!(body["swarm"].as_str().unwrap().contains("5 of 10"));

    tx.send(swarm_status(true, 10, 6)).unwrap();
    let (status, body) = get_json(&app, "/health/ready", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["swarm"], "ok");
}

#[tokio::test]
async fn stats_needs_the_bearer_token_and_has_the_upstream_fields() {
    let (_tx, rx) = watch::channel(swarm_status(true, 8, 7));
    let store = FakeStore::new(&[("apns", 2), ("firebase", 1)]);
    let app = router(&state(store.clone(), Some(rx), "s3cret"));
    let svc = "stats-test";
    metrics::counter!(names::PUSH_TOTAL, "service" => svc, "result" => "delivered").increment(3);
    metrics::counter!(names::PUSH_FAILURES, "service" => svc, "reason" => "Unregistered")
        .increment(2);

    let (status, _) = get(&app, "/stats", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = get(&app, "/stats", &[("authorization", "Bearer nope")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let auth = [("authorization", "Bearer s3cret")];
    let (status, stats) = get_json(&app, "/stats", &auth).await;
    assert_eq!(status, StatusCode::OK);
    for field in [
        "notifications",
        "pushes",
        "subscription",
        "sub_renew",
        "subscriptions",
        "swarms",
        "snodes",
        "accounts_monitored",
        "connections",
        "pending_connections",
        "uptime",
        "version",
        "push_failures",
        "dedup_dropped",
        "notifier",
        "block_hash",
        "block_height",
        "monitor_requests",
    ] {
        assert!(stats.get(field).is_some(), "{field} missing: {stats}");
    }
    assert_eq!(
        stats["subscriptions"],
        serde_json::json!({"apns": 2, "firebase": 1, "total": 3})
    );
    assert_eq!(stats["swarms"], 8);
    assert_eq!(stats["accounts_monitored"], 42);
    // Upstream's meanings: `notifications` are pushes out to the services, `pushes` the
    // messages in from the swarms (none here).
    assert!(stats["notifications"].as_f64().unwrap() >= 3.0);
    assert_eq!(stats["notifier"][svc]["notifies"], 3);
    assert_eq!(stats[format!("alive.{svc}")], true);
    assert_eq!(stats["pushes_by_result"][svc]["delivered"], 3.0);
    assert_eq!(stats["push_failures"][svc]["Unregistered"], 2.0);

    // A database outage does not hide the counters.
    store.set_healthy(false);
    let (status, stats) = get_json(&app, "/stats", &auth).await;
    assert_eq!(status, StatusCode::OK);
    assert!(stats["subscriptions"].is_null());
    assert!(stats["subscriptions_error"].is_string());
    assert!(stats["notifications"].as_f64().unwrap() >= 3.0);
}

/// Whether a label value could be (part of) an account ID, device token, enc_key or
/// signature: long, or a long run of hex, or base64 punctuation.
fn looks_like_identifier(value: &str) -> bool {
    let mut hex_run = 0;
    let mut longest = 0;
    for c in value.chars() {
        hex_run = if c.is_ascii_hexdigit() {
            hex_run + 1
        } else {
            0
        };
        longest = longest.max(hex_run);
    }
    value.len() > 48 || longest >= 16 || value.contains(['/', '='])
}

/// Every `(metric, label, value)` in Prometheus text.
fn label_values(text: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (Some(open), Some(close)) = (line.find('{'), line.rfind('}')) else {
            continue;
        };
        for pair in line[open + 1..close].split("\",") {
            if let Some((k, v)) = pair.split_once("=\"") {
                let v = v.trim_end_matches('"');
                out.push((line[..open].to_string(), k.to_string(), v.to_string()));
            }
        }
    }
    out
}

#[tokio::test]
async fn no_metric_label_carries_an_identifier() {
    let account = format!("05{}", "ab".repeat(32));
    let apns_token = "a1".repeat(32);
    let fcm_token = format!("dXk3:APA91b{}", "Zq_-".repeat(36));
    let signature = "Vw+/".repeat(22);
    for id in [&account, &apns_token, &fcm_token, &signature] {
        assert!(looks_like_identifier(id), "the check must catch {id}");
    }

    // The recorder must exist before anything is emitted (it is installed by `state`).
    let st = state(FakeStore::new(&[]), None, "");
    // What the modules emit on a busy relay.
    metrics::counter!(names::SUBSCRIBE_REQUESTS, "endpoint" => "subscribe", "result" => "added")
        .increment(1);
    metrics::counter!(names::ONION_REQUESTS, "enc_type" => "xchacha20", "result" => "ok")
        .increment(1);
    metrics::counter!(names::TOKENS_REMOVED, "service" => "apns", "reason" => "BadDeviceToken")
        .increment(1);
    metrics::gauge!(names::SWARM_CONNECTIONS, "state" => "connected").set(3.0);
    metrics::histogram!(names::PUSH_DURATION, "service" => "apns").record(0.01);

    let (_, text) = get(&router(&st), "/metrics", &[]).await;
    let labels = label_values(&text);
    assert!(
        labels.iter().any(|(_, k, _)| k == "enc_type"),
        "parsed labels"
    );
    for (metric, key, value) in labels {
        assert!(
            !looks_like_identifier(&value),
            "{metric}{{{key}=...}} looks like an identifier: {value}"
        );
    }
}

/// Emits one burst of what a relay under load records.
fn load_burst(i: u64) {
    for (svc, failing) in [("apns-load", false), ("fcm-load", true)] {
        metrics::counter!(names::PUSH_TOTAL, "service" => svc, "result" => "delivered")
            .increment(5);
        if failing {
            metrics::counter!(names::PUSH_TOTAL, "service" => svc, "result" => "retry")
                .increment(1);
            metrics::counter!(names::PUSH_FAILURES, "service" => svc, "reason" => "QUOTA_EXCEEDED")
                .increment(1);
        }
        metrics::gauge!(names::PUSH_QUEUE_DEPTH, "service" => svc).set((i % 7) as f64);
        metrics::histogram!(names::PUSH_QUEUE_WAIT, "service" => svc).record(0.002);
    }
    metrics::counter!(names::SWARM_NOTIFICATIONS).increment(10);
    for k in 0..10 {
        metrics::histogram!(names::END_TO_END).record(0.02 + 0.03 * k as f64);
    }
}

#[tokio::test]
async fn status_json_has_series_from_the_history() {
    let (_tx, rx) = watch::channel(swarm_status(true, 4, 3));
    let st = state(FakeStore::new(&[]), Some(rx), "");
    let sampler = Sampler::new(&st, Duration::from_secs(2));
    for i in 0..4 {
        load_burst(i);
        sampler.sample().await;
    }
    let app = router(&st);
    let (status, s) = get_json(&app, "/status.json", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        s["ago"].as_array().unwrap().len(),
        3,
        "one value per interval"
    );
    assert!(s["pushes"]["apns-load"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v.as_f64().unwrap() > 0.0));
    assert!(s["latency_p99"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v.as_f64().is_some()));
    assert_eq!(s["swarm_connected_pct"][0], 75.0);
    assert!(s["now"]["ready"].as_bool().unwrap());
    let failures = s["now"]["failures"].as_array().unwrap();
    assert!(failures
        .iter()
        .any(|f| f["service"] == "fcm-load" && f["reason"] == "QUOTA_EXCEEDED"));

    let (status, page) = get(&app, "/", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<canvas id=\"chart-pushes\"") && page.contains("status.json"));
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "self-contained"
    );
}

/// The `data-points` attribute of the canvas with `id` in a dumped DOM.
fn data_points(dom: &str, id: &str) -> Option<u64> {
    let at = dom.find(&format!("id=\"{id}\""))?;
    let tag_start = dom[..at].rfind('<')?;
    let tag = &dom[tag_start..tag_start + dom[tag_start..].find('>')?];
    let value = tag.split("data-points=\"").nth(1)?.split('"').next()?;
    value.parse().ok()
}

#[cfg_attr(not(prereq_chromium), ignore = "needs Chromium at /usr/bin/chromium")]
#[tokio::test]
async fn status_page_draws_charts_in_headless_chromium() -> anyhow::Result<()> {
    let chromium = std::path::Path::new("/usr/bin/chromium");
    if !chromium.exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but /usr/bin/chromium is missing"
        );
        eprintln!("notice: /usr/bin/chromium not installed, skipping the status page test");
        return Ok(());
    }
    let (_tx, rx) = watch::channel(swarm_status(true, 20, 19));
    let st = state(FakeStore::new(&[("apns-load", 5)]), Some(rx), "");

    // History the page can draw at once: bursts of load between samples.
    let sampler = Sampler::new(&st, Duration::from_millis(200));
    for i in 0..10 {
        load_burst(i);
        sampler.sample().await;
    }

    let shutdown = CancellationToken::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(
        axum::serve(listener, admin::router(st.clone()))
            .with_graceful_shutdown(shutdown.clone().cancelled_owned())
            .into_future(),
    );
    // Keep sampling and loading while the browser polls.
    tokio::spawn(sampler.run(shutdown.child_token()));
    let load = shutdown.child_token();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        for i in 10.. {
            tokio::select! {
                () = load.cancelled() => break,
                _ = tick.tick() => load_burst(i),
            }
        }
    });

    let profile = tempfile::tempdir()?;
    let output = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--virtual-time-budget=5000",
                "--dump-dom",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("http://{addr}/"))
            .kill_on_drop(true)
            .output(),
    )
    .await??;
    shutdown.cancel();
    server.await??;

    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    for chart in [
        "chart-pushes",
        "chart-latency",
        "chart-queue",
        "chart-swarm",
    ] {
        let points = data_points(&dom, chart);
        assert!(points.is_some_and(|n| n > 0), "{chart}: {points:?}\n{dom}");
    }
    assert!(
        dom.contains("QUOTA_EXCEEDED"),
        "the failing reason is listed"
    );
    assert!(dom.contains(">ready<"), "the readiness badge");
    assert!(dom.contains("% of 20 swarms connected"), "the swarm answer");
    Ok(())
}
