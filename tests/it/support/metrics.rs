//! One process-wide Prometheus recorder, so tests can read the metrics the relay emits.
//! Tests use their own service names, so their series do not mix.

use std::sync::OnceLock;

use metrics_exporter_prometheus::PrometheusHandle;

/// The relay's own recorder (`admin::metrics::install`), shared by every test in the binary.
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| relay::admin::metrics::install().expect("the relay's recorder installs"))
}

/// Installs the recorder (call before the code under test runs).
pub fn install() {
    handle();
}

/// The value of the series `name` whose labels include every `key="value"` of `labels`.
pub fn value(name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let text = handle().render();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .find(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}
