//! Non-200 STS answers classified into errors, secrets redacted (see credrefresh::fuzzing::sts_error).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = credrefresh::fuzzing::sts_error(data);
});
