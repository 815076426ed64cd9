//! The data part of a storage server's `notify.message`.
#![no_main]

libfuzzer_sys::fuzz_target!(|part: &[u8]| relay::fuzzing::notify_message(part));
