//! The shared config and credentials files, parsed and resolved (see credrefresh::fuzzing::profile).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = credrefresh::fuzzing::profile(data);
});
