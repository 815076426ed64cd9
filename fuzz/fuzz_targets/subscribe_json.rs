//! A `/subscribe` body (first byte odd) or `/unsubscribe` body (even), whole.
#![no_main]

use relay::api::JsonEndpoint;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some((first, body)) = data.split_first() {
        let endpoint = if first % 2 == 1 {
            JsonEndpoint::Subscribe
        } else {
            JsonEndpoint::Unsubscribe
        };
        relay::fuzzing::subscribe_json(endpoint, body);
    }
});
