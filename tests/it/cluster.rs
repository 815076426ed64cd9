//! Several replicas (issue 14): per-replica identity towards storage servers, leases in
//! Postgres, handover on kill and graceful stop.

mod identity;
mod prune;
mod replicas;
