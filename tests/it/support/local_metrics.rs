//! A recorder of one test's own metrics, for tests that count what the relay emits.
//!
//! The relay's Prometheus recorder (`metrics.rs`) is process-global, so parallel tests add into
//! the same series. [`LocalMetrics::install`] makes a fresh recorder the default of the current
//! thread instead (`metrics::set_default_local_recorder`): under `#[tokio::test]` (a
//! current-thread runtime) every task the test spawns runs on that thread, so the recorder sees
//! exactly what this test's code emits. Emits from other threads (`spawn_blocking`, std
//! threads, a multi-thread runtime) go to the global recorder and are not seen here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, Key, KeyName, LocalRecorderGuard, Metadata,
    Recorder, SharedString, Unit,
};
use tokio::sync::Notify;

/// How long [`LocalMetrics::wait_for`] waits before failing the test.
const WAIT: Duration = Duration::from_secs(10);

/// Counters and gauges emitted on this thread while the value lives; histograms are ignored.
pub struct LocalMetrics {
    series: Arc<Series>,
    /// Restores the previous default recorder of the thread when dropped.
    _guard: LocalRecorderGuard<'static>,
}

impl LocalMetrics {
    /// Makes a new, empty recorder the current thread's default until the value is dropped.
    pub fn install() -> LocalMetrics {
        let series = Arc::new(Series::default());
        // The guard borrows the recorder for as long as it lives; one small box per test.
        let recorder: &'static Handle = Box::leak(Box::new(Handle(series.clone())));
        LocalMetrics {
            series,
            _guard: metrics::set_default_local_recorder(recorder),
        }
    }

    /// The sum of the counter `name` over its series whose labels include every `labels` pair
    /// (0 if none was emitted).
    pub fn count(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.series.sum(name, labels) as u64
    }

    /// The value of the gauge `name` whose labels include every `labels` pair, if it was set.
    pub fn gauge(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let cells = self
            .series
            .cells
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        cells
            .iter()
            .find(|(key, _)| matches(key, name, labels))
            .map(|(_, cell)| cell.get())
    }

    /// Waits until [`Self::count`] of `name` and `labels` reaches `at_least`; panics after
    /// [`WAIT`].
    pub async fn wait_for(&self, name: &str, labels: &[(&str, &str)], at_least: u64) {
        let reached = async {
            loop {
                let changed = self.series.changed.notified();
                tokio::pin!(changed);
                // Registered before the check, so a change in between still wakes us.
                changed.as_mut().enable();
                if self.count(name, labels) >= at_least {
                    return;
                }
                changed.await;
            }
        };
        if tokio::time::timeout(WAIT, reached).await.is_err() {
            panic!(
                "{name} {labels:?} is {} after {WAIT:?}, expected at least {at_least}",
                self.count(name, labels)
            );
        }
    }
}

/// Whether `key` is a series of `name` with every `labels` pair.
fn matches(key: &Key, name: &str, labels: &[(&str, &str)]) -> bool {
    key.name() == name
        && labels
            .iter()
            .all(|(k, v)| key.labels().any(|l| l.key() == *k && l.value() == *v))
}

/// Every series emitted so far, and a wake-up for each change.
#[derive(Default)]
struct Series {
    cells: Mutex<HashMap<Key, Arc<Cell>>>,
    changed: Arc<Notify>,
}

impl Series {
    fn cell(&self, key: &Key) -> Arc<Cell> {
        let mut cells = self.cells.lock().unwrap_or_else(PoisonError::into_inner);
        cells
            .entry(key.clone())
            .or_insert_with(|| {
                Arc::new(Cell {
                    value: Mutex::new(0.0),
                    changed: self.changed.clone(),
                })
            })
            .clone()
    }

    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let cells = self.cells.lock().unwrap_or_else(PoisonError::into_inner);
        cells
            .iter()
            .filter(|(key, _)| matches(key, name, labels))
            .map(|(_, cell)| cell.get())
            .sum()
    }
}

/// One series' value.
struct Cell {
    value: Mutex<f64>,
    changed: Arc<Notify>,
}

impl Cell {
    fn get(&self) -> f64 {
        *self.value.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update(&self, f: impl FnOnce(f64) -> f64) {
        {
            let mut value = self.value.lock().unwrap_or_else(PoisonError::into_inner);
            *value = f(*value);
        }
        self.changed.notify_waiters();
    }
}

impl CounterFn for Cell {
    fn increment(&self, value: u64) {
        self.update(|v| v + value as f64);
    }

    fn absolute(&self, value: u64) {
        self.update(|v| v.max(value as f64));
    }
}

impl GaugeFn for Cell {
    fn increment(&self, value: f64) {
        self.update(|v| v + value);
    }

    fn decrement(&self, value: f64) {
        self.update(|v| v - value);
    }

    fn set(&self, value: f64) {
        self.update(|_| value);
    }
}

/// The [`Recorder`] side of [`LocalMetrics`].
struct Handle(Arc<Series>);

impl Recorder for Handle {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.0.cell(key))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.0.cell(key))
    }

    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}
