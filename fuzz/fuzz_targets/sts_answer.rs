//! STS answers: success documents and both error shapes (see credrefresh::fuzzing::sts_answer).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = credrefresh::fuzzing::sts_answer(data);
});
