//! The plaintext of an onion request layer, and the JSON route it names.
#![no_main]

libfuzzer_sys::fuzz_target!(|plaintext: &[u8]| relay::fuzzing::onion_inner(plaintext));
