//! Environment values: credentials and the profile files' locations (see credrefresh::fuzzing::env).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = credrefresh::fuzzing::env(data);
});
