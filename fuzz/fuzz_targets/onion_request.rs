//! An onion request body: outer framing, key derivation, layer open, inner request.
#![no_main]

libfuzzer_sys::fuzz_target!(|body: &[u8]| relay::fuzzing::onion_request(body));
