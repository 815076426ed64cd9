//! The CPU of every replica over the message phase, from `/proc/PID/stat` of each: with
//! `[cluster]` the work is split, so relay CPU per push is the sum over replicas ÷ pushes, and
//! it must not grow with the replica count (issue 14: 3 replicas on 3 machines ≈ 3× one).

use std::sync::Mutex;

use super::process::{Cpu, Probe};
use crate::network::Network;

/// Readings of each replica: at the start of the phase, and the last one taken.
pub struct ClusterCpu {
    replicas: Vec<Option<Replica>>,
}

struct Replica {
    probe: Probe,
    before: Cpu,
    /// Set by [`ClusterCpu::freeze`] before the replica is killed (its `/proc` entry goes).
    frozen: Mutex<Option<Cpu>>,
}

impl ClusterCpu {
    /// Reads every replica now; one that runs in this process or cannot be read is left out.
    pub fn start(net: &Network, replicas: usize) -> ClusterCpu {
        let replicas = (0..replicas)
            .map(|i| {
                let probe = Probe::new(net.replica_pid(i)?);
                let before = probe.cpu().ok()?;
                Some(Replica {
                    probe,
                    before,
                    frozen: Mutex::new(None),
                })
            })
            .collect();
        ClusterCpu { replicas }
    }

    /// Takes replica `i`'s last reading (call it just before a kill).
    pub fn freeze(&self, i: usize) {
        if let Some(Some(r)) = self.replicas.get(i) {
            let now = r.probe.cpu().ok();
            *r.frozen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = now;
        }
    }

    /// CPU seconds of each replica since [`ClusterCpu::start`] (0 for one that could not be
    /// read).
    pub fn finish(&self) -> Vec<f64> {
        self.replicas
            .iter()
            .map(|r| {
                let Some(r) = r else { return 0.0 };
                let frozen = *r
                    .frozen
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                frozen
                    .or_else(|| r.probe.cpu().ok())
                    .map_or(0.0, |after| after.total() - r.before.total())
            })
            .collect()
    }
}
