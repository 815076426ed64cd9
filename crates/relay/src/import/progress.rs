//! The progress line on standard error while an import runs, only when it is a terminal (a
//! redirected or piped run prints nothing there but errors).

use std::io::{IsTerminal as _, Write as _};
use std::time::Duration;

use tokio::time::Instant;

/// How often the line is redrawn.
const EVERY: Duration = Duration::from_secs(1);

/// Redraws `rows read, rate` at most once a second.
pub struct Progress {
    enabled: bool,
    started: Instant,
    last: Instant,
    drawn: bool,
}

impl Progress {
    /// On when standard error is a terminal.
    pub fn on_terminal() -> Self {
        Self::new(std::io::stderr().is_terminal())
    }

    /// Prints nothing (tests, library callers).
    pub fn off() -> Self {
        Self::new(false)
    }

    fn new(enabled: bool) -> Self {
        let now = Instant::now();
        Progress {
            enabled,
            started: now,
            last: now,
            drawn: false,
        }
    }

    /// Called after each row; redraws when a second has passed.
    pub fn tick(&mut self, read: u64) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        if now.duration_since(self.last) < EVERY {
            return;
        }
        self.last = now;
        self.draw(read);
    }

    /// Draws the last figures and ends the line.
    pub fn finish(&mut self, read: u64) {
        if self.enabled && self.drawn {
            self.draw(read);
            let _ = writeln!(std::io::stderr());
        }
    }

    fn draw(&mut self, read: u64) {
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = read as f64 / secs;
        let _ = write!(
            std::io::stderr(),
            "\rimport-spns: {read} rows read ({rate:.0} rows/s)   "
        );
        self.drawn = true;
    }
}
