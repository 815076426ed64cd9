//! oxend's `get_service_nodes` reply.
#![no_main]

libfuzzer_sys::fuzz_target!(|reply: &[u8]| relay::fuzzing::node_list(reply));
