//! RFC 3339 timestamps, parsed and formatted (see credrefresh::fuzzing::rfc3339).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = credrefresh::fuzzing::rfc3339(data);
});
