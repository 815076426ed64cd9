//! `session-push-relay import-spns` (issue 15): the upstream server's Postgres database, built
//! here with its own DDL and filled with signed rows, imported through the real binary; then
//! served by a running relay that picks the rows up without a restart.

mod cutover;
mod schemas;
mod upstream;
