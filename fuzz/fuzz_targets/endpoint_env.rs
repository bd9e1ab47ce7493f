//! IMDS and container endpoint settings from the environment, read by the sources' builders (see credrefresh::fuzzing::endpoint_env).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = credrefresh::fuzzing::endpoint_env(data);
});
