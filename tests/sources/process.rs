//! `CredentialProcessSource` running real scripts: a valid document, and
//! every way a program can go wrong (hanging, garbage, 10 MB, a non-zero
//! exit with a secret on stderr, a missing program), each a typed error
//! with its class, the program and everything it started killed and
//! reaped, and, in a running refresher, the last good credentials kept.
//! Real time, no sleeps: waits are on conditions, with limits.

use std::path::{Path, PathBuf};
use std::time::Duration;

use credrefresh::clock::{Clock, SystemClock};
use credrefresh::sources::CredentialProcessSource;
use credrefresh::sources::process::DEFAULT_MAX_OUTPUT_BYTES;
use credrefresh::{Credentials, ErrorClass, FetchContext, Source};

use crate::common::refreshing::{assert_kept, refresh_fails_with, running};

const WAIT: Duration = Duration::from_secs(20);
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYPROCESSKEY";

/// A fresh directory for one test's scripts.
fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("credrefresh-process-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes an executable shell script `name` in `dir` and returns its path.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A `credential_process` document for `key`, expiring in an hour.
fn document(key: &str) -> String {
    let expiry = SystemClock.now() + Duration::from_secs(3600);
    Credentials::builder(key, SECRET, SystemClock.now())
        .session_token("IQoJb3JpZ2luX2VjPROCESSTOKEN")
        .expiry(expiry)
        .account_id("123456789012")
        .build()
        .unwrap()
        .to_credential_process_json()
        .to_string()
}

fn process(command: String) -> CredentialProcessSource {
    CredentialProcessSource::builder(command)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

fn ctx() -> FetchContext {
    FetchContext::system("app")
}

/// Whether process `pid` is gone or a zombie (`/proc/PID/stat` state `Z`).
fn dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

/// Waits (real time, up to `limit`) until `condition` holds.
#[allow(clippy::disallowed_methods)] // external processes die in real time
fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if condition() {
            return true;
        }
        std::thread::park_timeout(Duration::from_millis(20));
    }
    condition()
}

fn read_pid(path: &Path) -> u32 {
    assert!(wait_until(WAIT, || std::fs::read_to_string(path).is_ok_and(|s| s.ends_with('\n'))));
    std::fs::read_to_string(path).unwrap().trim().parse().unwrap()
}

#[tokio::test]
async fn a_valid_document_makes_credentials_with_expiry_and_account() {
    let d = dir("valid");
    std::fs::write(d.join("doc.json"), document("ASIAPROCESSVALID")).unwrap();
    // Quoted arguments, as a profile would write them.
    let s = script(&d, "get creds.sh", "cat \"$1\"");
    let source = process(format!("\"{}\" '{}'", s.display(), d.join("doc.json").display()));
    let creds = source.fetch(ctx()).await.unwrap();
    assert_eq!(creds.access_key_id(), "ASIAPROCESSVALID");
    assert_eq!(creds.secret_access_key(), SECRET);
    assert_eq!(creds.account_id(), Some("123456789012"));
    assert!(creds.expiry().unwrap() > SystemClock.now());
    assert_eq!(source.program(), s.to_str().unwrap());

    // Without Expiration: long-term credentials.
    let s = script(
        &d,
        "static.sh",
        "echo '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROCESS\", \"SecretAccessKey\": \"s\"}'",
    );
    let creds = process(s.display().to_string()).fetch(ctx()).await.unwrap();
    assert_eq!(creds.expiry(), None);
    assert_eq!(creds.account_id(), None);
    let _ = std::fs::remove_dir_all(&d);
}

#[tokio::test]
async fn a_hanging_program_is_a_timeout_and_is_killed_with_what_it_started() {
    let d = dir("hang");
    // The script records its shell's id, its own and its child's, then waits forever.
    let s = script(
        &d,
        "hang.sh",
        "echo $PPID > \"$1/parent\"\nsleep 600 &\necho $! > \"$1/child\"\necho $$ > \"$1/self\"\nwait",
    );
    let source = CredentialProcessSource::builder(format!("{} {}", s.display(), d.display()))
        .timeout(Duration::from_millis(1500))
        .build()
        .unwrap();
    let e = source.fetch(ctx()).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Timeout, "{e}");
    assert!(e.message().contains("did not finish within 1500 ms"), "{e}");
    let (parent, this, child) = (
        read_pid(&d.join("parent")),
        read_pid(&d.join("self")),
        read_pid(&d.join("child")),
    );
    // Everything in the group is killed; what we started ourselves is also
    // reaped (the others are reaped by whoever inherits them).
    for pid in [this, child] {
        assert!(wait_until(WAIT, || dead(pid)), "process {pid} still running");
    }
    if parent != std::process::id() {
        assert!(
            !Path::new(&format!("/proc/{parent}")).exists(),
            "the shell {parent} was not reaped"
        );
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[tokio::test]
async fn an_abandoned_fetch_kills_the_program() {
    let d = dir("abandon");
    let s = script(&d, "hang.sh", "echo $$ > \"$1/self\"\nsleep 600");
    let source = process(format!("{} {}", s.display(), d.display()));
    // The refresher's own fetch timeout drops the fetch like this.
    let dropped = tokio::time::timeout(Duration::from_millis(1500), source.fetch(ctx())).await;
    assert!(dropped.is_err());
    let pid = read_pid(&d.join("self"));
    assert!(wait_until(WAIT, || dead(pid)), "process {pid} still running");
    let _ = std::fs::remove_dir_all(&d);
}

#[tokio::test]
async fn a_refresher_shutdown_kills_a_running_program() {
    let d = dir("shutdown");
    let s = script(&d, "hang.sh", "echo $$ > \"$1/self\"\nsleep 600");
    let refresher = credrefresh::Refresher::builder()
        .role("app", process(format!("{} {}", s.display(), d.display())))
        .start()
        .unwrap();
    let pid = read_pid(&d.join("self"));
    assert!(!dead(pid), "the program runs");
    refresher.shutdown();
    assert!(
        wait_until(WAIT, || dead(pid)),
        "process {pid} still running after shutdown"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[tokio::test]
async fn garbage_and_wrong_versions_are_invalid_responses() {
    let d = dir("garbage");
    let s = script(&d, "garbage.sh", &format!("echo 'AccessKeyId={SECRET} not json'"));
    let e = process(s.display().to_string()).fetch(ctx()).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::InvalidResponse, "{e}");
    assert!(!e.to_string().contains(SECRET), "{e}");
    assert!(e.message().contains("not valid JSON"), "{e}");
    let s = script(
        &d,
        "v2.sh",
        "echo '{\"Version\": 2, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"s\"}'",
    );
    let e = process(s.display().to_string()).fetch(ctx()).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::InvalidResponse, "{e}");
    assert!(e.message().contains("Version"), "{e}");
    let _ = std::fs::remove_dir_all(&d);
}

#[tokio::test]
async fn ten_megabytes_or_an_endless_output_is_cut_and_killed() {
    let d = dir("big");
    let s = script(
        &d,
        "big.sh",
        "echo $$ > \"$1/self\"\nhead -c 10485760 /dev/zero | tr '\\0' 'a'",
    );
    let e = process(format!("{} {}", s.display(), d.display()))
        .fetch(ctx())
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::InvalidResponse, "{e}");
    assert!(
        e.message()
            .contains(&format!("printed more than {DEFAULT_MAX_OUTPUT_BYTES} bytes")),
        "{e}"
    );
    let pid = read_pid(&d.join("self"));
    assert!(wait_until(WAIT, || dead(pid)), "process {pid} still running");
    // A program that never stops printing.
    let e = process("yes AKIDEXAMPLE".to_string()).fetch(ctx()).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::InvalidResponse, "{e}");
    let _ = std::fs::remove_dir_all(&d);
}

#[tokio::test]
async fn a_non_zero_exit_is_retryable_and_its_stderr_is_cut_and_redacted() {
    let d = dir("exit");
    let s = script(
        &d,
        "fail.sh",
        &format!(
            "echo 'vault: login expired for {SECRET}' >&2\necho 'password: hunter2' >&2\n\
             head -c 100000 /dev/zero | tr '\\0' 'x' >&2\nexit 3"
        ),
    );
    let e = process(format!("{} --token hunter3", s.display()))
        .fetch(ctx())
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Retryable, "{e}");
    let text = e.to_string();
    assert!(text.contains("exited with status 3"), "{text}");
    assert!(text.contains("vault: login expired for ** redacted **"), "{text}");
    for secret in [SECRET, "wJalrXUtnFEMI", "hunter2", "hunter3"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert!(text.len() < 600, "stderr is cut: {} bytes", text.len());
    let _ = std::fs::remove_dir_all(&d);
}

#[tokio::test]
async fn a_missing_program_is_a_configuration_error() {
    let e = process("/nonexistent/credrefresh-helper --x".to_string())
        .fetch(ctx())
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::InvalidConfiguration, "{e}");
    assert!(e.message().contains("`/nonexistent/credrefresh-helper`"), "{e}");
    assert!(e.message().contains("status 127"), "{e}");
}

#[tokio::test]
async fn a_refresher_keeps_the_last_good_credentials_while_the_program_fails() {
    let d = dir("refresher");
    std::fs::write(d.join("doc.json"), document("ASIAPROCESSKEPT")).unwrap();
    let s = script(&d, "get.sh", "cat \"$1/doc.json\"");
    let (_refresher, handle, key) = running(process(format!("{} {}", s.display(), d.display())), WAIT).await;
    assert_eq!(key, "ASIAPROCESSKEPT");
    assert_eq!(handle.load().source(), "process");
    for (doc, class) in [
        ("garbage", ErrorClass::InvalidResponse),
        ("", ErrorClass::InvalidResponse),
    ] {
        std::fs::write(d.join("doc.json"), doc).unwrap();
        let snapshot = refresh_fails_with(&handle, class, WAIT).await;
        assert_kept(&snapshot, "ASIAPROCESSKEPT", "process");
    }
    std::fs::remove_file(d.join("doc.json")).unwrap();
    let snapshot = refresh_fails_with(&handle, ErrorClass::Retryable, WAIT).await;
    assert_kept(&snapshot, "ASIAPROCESSKEPT", "process");
    // Fixed: the next refresh recovers.
    std::fs::write(d.join("doc.json"), document("ASIAPROCESSNEW")).unwrap();
    handle.invalidate();
    let snapshot = handle
        .wait_for(WAIT, |s| {
            s.credentials().is_some_and(|c| c.access_key_id() == "ASIAPROCESSNEW")
        })
        .await
        .unwrap();
    assert_eq!(snapshot.consecutive_failures(), 0);
    let _ = std::fs::remove_dir_all(&d);
}
