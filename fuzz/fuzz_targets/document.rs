//! The JSON credentials document of IMDS, the container endpoint and credential_process (see credrefresh::fuzzing::document).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = credrefresh::fuzzing::document(data);
});
