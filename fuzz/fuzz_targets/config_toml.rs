//! A configuration file: TOML, then the typed config, then validation.
#![no_main]

libfuzzer_sys::fuzz_target!(|text: &[u8]| relay::fuzzing::config_toml(text));
