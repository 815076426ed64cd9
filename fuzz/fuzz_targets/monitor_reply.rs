//! A storage server's reply to `monitor.messages`.
#![no_main]

libfuzzer_sys::fuzz_target!(|part: &[u8]| relay::fuzzing::monitor_reply(part));
