//! `credential_process`: credentials printed by a program, run at every
//! refresh.
//!
//! # How the command is run
//!
//! As `aws-config` (the AWS SDK for Rust), the Go, Java and JavaScript
//! SDKs run it: the whole command line is given to the shell, `sh -c
//! <command>` on Unix and `cmd.exe /C <command>` on Windows, so quoting,
//! `~`, `$VARIABLES` and pipes behave as they do in a terminal. botocore
//! (the AWS CLI, boto3) instead splits the line with `shlex` and runs the
//! program without a shell: a command made of a program and quoted
//! arguments runs the same both ways, and one that relies on shell syntax
//! (pipes, variables) works here and not in botocore.
//!
//! The program inherits the environment and the working directory; its
//! stdin is closed (`/dev/null`): it cannot prompt. On Unix it runs in a
//! process group of its own, so that on timeout, and when a refresh is
//! abandoned (the refresher's own
//! [fetch timeout](crate::RefreshPolicy::fetch_timeout), a shutdown), the
//! whole group is killed with `SIGKILL` — the shell, the program it forked
//! and anything that program started — and the shell is reaped: no process
//! is left behind, running or as a zombie. Everything is asynchronous
//! (`tokio::process`): the refresher's thread is never blocked waiting on
//! the program.
//!
//! # What it must print
//!
//! On stdout, the JSON document of the AWS CLI's `credential_process`
//! (`Version` 1, `AccessKeyId`, `SecretAccessKey`, optional `SessionToken`,
//! `Expiration` (RFC 3339), `AccountId`), read by the same parser as every
//! other JSON source; at most [`DEFAULT_MAX_OUTPUT_BYTES`] of it. Without
//! `Expiration` the credentials are long-term, and the refresher runs the
//! program again every
//! [`DEFAULT_NO_EXPIRY_REFRESH_INTERVAL`](crate::policy::DEFAULT_NO_EXPIRY_REFRESH_INTERVAL).
//!
//! # Errors
//!
//! | what happened | class |
//! | --- | --- |
//! | the shell cannot be started; exit status 126 or 127 (the shell's "cannot execute" and "not found") | [`InvalidConfiguration`](ErrorClass::InvalidConfiguration) |
//! | any other non-zero exit status, or killed by a signal | [`Retryable`](ErrorClass::Retryable) |
//! | no exit within the [timeout](CredentialProcessBuilder::timeout) | [`Timeout`](ErrorClass::Timeout) |
//! | stdout over the [limit](CredentialProcessBuilder::max_output_bytes), not JSON, not `Version` 1, a field missing or malformed | [`InvalidResponse`](ErrorClass::InvalidResponse) |
//!
//! A non-zero exit is [`Retryable`](ErrorClass::Retryable), not
//! [`InvalidConfiguration`](ErrorClass::InvalidConfiguration): credential
//! helpers (a vault client, a password manager, an SSO wrapper) exit
//! non-zero for passing reasons as often as for lasting ones — a network
//! call of theirs failed, a service was busy — and a retry with backoff is
//! what fixes those, while a lasting failure costs one short-lived process
//! per backoff step (the backoff grows to its cap), and the last good
//! credentials are served meanwhile either way. Only the shell's own
//! statuses for a command that cannot run at all are treated as
//! configuration errors.
//!
//! Messages name the program (the first word of the command), never its
//! arguments, which may carry secrets. What the program wrote on stderr is
//! shown cut to [`STDERR_SHOWN_CHARS`] characters, its control characters
//! dropped and every word that looks like a key, a token or a password (a
//! long run of letters and digits, the value after `secret=` or
//! `password:`) replaced by [`REDACTED`](crate::REDACTED); stderr is never
//! logged on its own. stdout is never shown.

use std::fmt;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};

use crate::document::{self, DocumentKind};
use crate::error::{BuildError, ErrorClass, SourceError};
use crate::source::{FetchContext, FetchFuture, Source};

use super::http::safe_text;

/// Default limit on one run of the program: 20 s, below the refresher's
/// default [fetch timeout](crate::policy::DEFAULT_FETCH_TIMEOUT) so that a
/// hanging program is reported as such. The refresher's fetch timeout also
/// applies: whichever ends first kills the program.
pub const DEFAULT_PROCESS_TIMEOUT: Duration = Duration::from_secs(20);

/// Default limit on what the program prints on stdout: 64 KiB (a document
/// is under 2 KiB; the AWS SDK for Java stops at 64 000 bytes).
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 64 * 1024;

/// How many characters of the program's stderr an error message shows,
/// after redaction.
pub const STDERR_SHOWN_CHARS: usize = 200;

/// How much of stderr is kept to make the message from; the rest is read
/// and dropped (so that a chatty program never blocks on a full pipe).
const STDERR_KEPT_BYTES: usize = 4096;

/// The exit status of a shell that found the command but could not execute it.
const EXIT_CANNOT_EXECUTE: i32 = 126;
/// The exit status of a shell that did not find the command.
const EXIT_NOT_FOUND: i32 = 127;

/// The program of a command line: its first word, or the first
/// double-quoted string. Shown in messages instead of the whole line.
pub(crate) fn program_of(command_line: &str) -> &str {
    let line = command_line.trim_start();
    if let Some(rest) = line.strip_prefix('"') {
        return rest.split('"').next().unwrap_or(rest);
    }
    line.split([' ', '\t']).next().unwrap_or(line)
}

/// Credentials from a `credential_process` command, run at every refresh:
/// see the [module docs](self) for how it is run and what its errors are.
///
/// ```no_run
/// use std::time::Duration;
/// use credrefresh::{Refresher, sources::CredentialProcessSource};
/// # fn main() -> Result<(), credrefresh::BuildError> {
/// let source = CredentialProcessSource::builder("/usr/local/bin/get-creds --profile 'ops team'")
///     .timeout(Duration::from_secs(10))
///     .build()?;
/// let refresher = Refresher::builder().role("ops", source).start()?;
/// # Ok(()) }
/// ```
pub struct CredentialProcessSource {
    command: String,
    timeout: Duration,
    max_output_bytes: usize,
}

impl fmt::Debug for CredentialProcessSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialProcessSource")
            .field("program", &self.program())
            .field("arguments", &crate::REDACTED)
            .field("timeout", &self.timeout)
            .field("max_output_bytes", &self.max_output_bytes)
            .finish()
    }
}

/// Configures a [`CredentialProcessSource`]; see
/// [`CredentialProcessSource::builder`].
#[must_use]
pub struct CredentialProcessBuilder {
    command: String,
    timeout: Option<Duration>,
    max_output_bytes: Option<usize>,
}

impl fmt::Debug for CredentialProcessBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialProcessBuilder")
            .field("program", &program_of(&self.command))
            .field("timeout", &self.timeout)
            .field("max_output_bytes", &self.max_output_bytes)
            .finish_non_exhaustive()
    }
}

impl CredentialProcessBuilder {
    /// How long one run may take, from start to exit with its output read.
    ///
    /// Defaults to [`DEFAULT_PROCESS_TIMEOUT`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The most the program may print on stdout; more kills it, and the
    /// run is an [`InvalidResponse`](ErrorClass::InvalidResponse).
    ///
    /// Defaults to [`DEFAULT_MAX_OUTPUT_BYTES`].
    pub fn max_output_bytes(mut self, limit: usize) -> Self {
        self.max_output_bytes = Some(limit);
        self
    }

    /// Checks the configuration and builds the source.
    ///
    /// # Errors
    /// [`BuildError::InvalidConfiguration`] for an empty command, a zero
    /// timeout or a zero output limit.
    pub fn build(self) -> Result<CredentialProcessSource, BuildError> {
        let invalid = |what, reason: &str| BuildError::InvalidConfiguration {
            what,
            reason: reason.into(),
        };
        if self.command.trim().is_empty() {
            return Err(invalid("credential_process command", "must not be empty"));
        }
        let timeout = self.timeout.unwrap_or(DEFAULT_PROCESS_TIMEOUT);
        if timeout.is_zero() {
            return Err(invalid("credential_process timeout", "must be above zero"));
        }
        let max_output_bytes = self.max_output_bytes.unwrap_or(DEFAULT_MAX_OUTPUT_BYTES);
        if max_output_bytes == 0 {
            return Err(invalid("credential_process output limit", "must be above zero"));
        }
        Ok(CredentialProcessSource {
            command: self.command,
            timeout,
            max_output_bytes,
        })
    }
}

impl CredentialProcessSource {
    /// Configures a source running `command_line` (through the shell, as
    /// the SDKs do: see the [module docs](self)).
    pub fn builder(command_line: impl Into<String>) -> CredentialProcessBuilder {
        CredentialProcessBuilder {
            command: command_line.into(),
            timeout: None,
            max_output_bytes: None,
        }
    }

    /// The program run: the first word of the command line (its arguments
    /// are never shown).
    pub fn program(&self) -> &str {
        program_of(&self.command)
    }

    fn command(&self) -> Command {
        let mut command = if cfg!(windows) {
            let mut c = Command::new("cmd.exe");
            c.args(["/C", &self.command]);
            c
        } else {
            let mut c = Command::new("sh");
            c.args(["-c", &self.command]);
            c
        };
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        #[cfg(unix)]
        command.process_group(0);
        command
    }

    async fn run(&self, ctx: &FetchContext) -> Result<crate::Credentials, SourceError> {
        let program = self.program();
        let child = self.command().spawn().map_err(|e| {
            SourceError::invalid_configuration(format!(
                "credential_process `{program}`: the shell could not be started ({})",
                e.kind()
            ))
        })?;
        let mut running = Running::new(child);
        let limit = self.max_output_bytes;
        let outcome = tokio::time::timeout(self.timeout, running.output(limit)).await;
        let (stdout, stderr, status) = match outcome {
            Ok(Ok(output)) => output,
            Ok(Err(Overflow)) => {
                running.kill().await;
                return Err(SourceError::invalid_response(format!(
                    "credential_process `{program}` printed more than {limit} bytes; it was killed"
                )));
            }
            Err(_) => {
                running.kill().await;
                return Err(SourceError::new(
                    ErrorClass::Timeout,
                    format!(
                        "credential_process `{program}` did not finish within {} ms; it was killed",
                        self.timeout.as_millis()
                    ),
                ));
            }
        };
        if !status.success() {
            return Err(exit_error(program, status, &stderr));
        }
        let credentials = document::parse(&stdout, ctx.now(), DocumentKind::CredentialProcess)
            .map_err(|e| e.into_source_error(&format!("credential_process `{program}` output")))?;
        tracing::debug!(
            role = ctx.role(),
            program,
            expires = credentials.expiry().is_some(),
            "credential_process succeeded"
        );
        Ok(credentials)
    }
}

impl Source for CredentialProcessSource {
    fn name(&self) -> &'static str {
        "process"
    }

    fn fetch(&self, ctx: FetchContext) -> FetchFuture<'_> {
        Box::pin(async move { self.run(&ctx).await })
    }
}

impl From<CredentialProcessSource> for crate::sources::sts::BaseCredentials {
    fn from(source: CredentialProcessSource) -> Self {
        crate::sources::sts::BaseCredentials::from_source(source)
    }
}

/// The error of a run that exited unsuccessfully.
fn exit_error(program: &str, status: ExitStatus, stderr: &[u8]) -> SourceError {
    let stderr = stderr_excerpt(stderr);
    let said = if stderr.is_empty() {
        String::from("nothing on stderr")
    } else {
        format!("stderr: {stderr}")
    };
    match status.code() {
        Some(code @ (EXIT_CANNOT_EXECUTE | EXIT_NOT_FOUND)) => SourceError::invalid_configuration(format!(
            "credential_process `{program}` could not be run (exit status {code}; {said})"
        )),
        Some(code) => SourceError::retryable(format!(
            "credential_process `{program}` exited with status {code} ({said})"
        )),
        None => SourceError::retryable(format!(
            "credential_process `{program}` was killed by a signal ({said})"
        )),
    }
}

/// stdout went over its limit.
struct Overflow;

/// A running program: killed with its process group when dropped before it
/// was reaped (an abandoned fetch), and by [`kill`](Self::kill).
struct Running {
    child: Child,
}

impl Running {
    fn new(child: Child) -> Self {
        Self { child }
    }

    /// Reads stdout (up to `limit` bytes) and stderr (its start kept) to
    /// their ends, then waits for the exit.
    async fn output(&mut self, limit: usize) -> Result<(Vec<u8>, Vec<u8>, ExitStatus), Overflow> {
        let stdout = self.child.stdout.take();
        let stderr = self.child.stderr.take();
        let (stdout, stderr) = tokio::try_join!(read_limited(stdout, limit), async {
            Ok(read_kept(stderr, STDERR_KEPT_BYTES).await)
        })?;
        // Both pipes are closed: the shell has exited or is about to. An
        // error of `wait` (none is expected) reads as a killed program.
        match self.child.wait().await {
            Ok(status) => Ok((stdout, stderr, status)),
            Err(e) => {
                tracing::warn!(error = %e, "could not wait for a credential_process");
                Ok((stdout, stderr, failed_status()))
            }
        }
    }

    /// Kills the program and everything in its process group, and reaps it.
    async fn kill(&mut self) {
        kill_group(&self.child);
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Not reaped yet (an abandoned fetch): the group still exists under
        // this id. The child itself is killed and reaped by tokio
        // (`kill_on_drop`).
        kill_group(&self.child);
    }
}

/// Sends `SIGKILL` to the process group of `child`, if it has not been
/// reaped (its id then still names its group, and cannot be reused).
#[cfg(unix)]
fn kill_group(child: &Child) {
    let group = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(rustix::process::Pid::from_raw);
    if let Some(group) = group {
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    }
}

#[cfg(not(unix))]
fn kill_group(_child: &Child) {}

/// An exit status that is not success, for a program whose status could
/// not be read.
fn failed_status() -> ExitStatus {
    #[cfg(unix)]
    {
        std::os::unix::process::ExitStatusExt::from_raw(9)
    }
    #[cfg(windows)]
    {
        std::os::windows::process::ExitStatusExt::from_raw(1)
    }
}

/// Reads `pipe` to its end; more than `limit` bytes is an [`Overflow`]. A
/// read error ends the output there.
async fn read_limited(pipe: Option<impl AsyncRead + Unpin>, limit: usize) -> Result<Vec<u8>, Overflow> {
    let Some(pipe) = pipe else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    // One byte past the limit tells "exactly at the limit" from "over".
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let _ = pipe.take(cap).read_to_end(&mut out).await;
    if out.len() > limit { Err(Overflow) } else { Ok(out) }
}

/// Reads `pipe` to its end, keeping its first `keep` bytes.
async fn read_kept(pipe: Option<impl AsyncRead + Unpin>, keep: usize) -> Vec<u8> {
    let Some(mut pipe) = pipe else {
        return Vec::new();
    };
    let mut kept = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = keep.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}

/// Words after which the next word is a secret (`password: x`), and which
/// make the rest of their own word one (`secret=x`).
const SECRET_LABELS: [&str; 6] = ["secret", "token", "password", "passwd", "credential", "key"];

/// The shortest run of letters and digits taken for a key or a token.
const MIN_TOKEN_CHARS: usize = 16;

/// What a program wrote on stderr, made safe for an error message: lossy
/// UTF-8, secrets-looking words redacted, control characters dropped, cut
/// to [`STDERR_SHOWN_CHARS`].
pub(crate) fn stderr_excerpt(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    safe_text(&redact_words(&text), &[], STDERR_SHOWN_CHARS)
}

/// Replaces by [`REDACTED`](crate::REDACTED) every word that looks like a
/// secret: a value after a label naming one (`password: x`, `secret=x`),
/// and any run of at least [`MIN_TOKEN_CHARS`] key characters
/// (`A-Za-z0-9+/=_-`) holding both a letter and a digit. Words are
/// rejoined with single spaces.
fn redact_words(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut after_label = false;
    for word in text.split_whitespace() {
        if after_label {
            out.push(crate::REDACTED.to_string());
            after_label = false;
            continue;
        }
        let normal = word.to_ascii_lowercase().replace(['"', '\''], "");
        let labelled = SECRET_LABELS.iter().any(|l| normal.contains(l));
        if labelled && (normal.ends_with(':') || normal.ends_with('=')) {
            out.push(word.to_string());
            after_label = true;
            continue;
        }
        if labelled {
            if let Some(at) = word.find(['=', ':']) {
                if at + 1 < word.len() {
                    out.push(format!("{}{}", &word[..=at], crate::REDACTED));
                    continue;
                }
            }
        }
        out.push(redact_tokens(word));
    }
    out.join(" ")
}

/// Redacts the runs of key characters in `word` that look like a key or
/// a token, keeping what is around them (quotes, commas, a path).
fn redact_tokens(word: &str) -> String {
    let is_key_char = |c: char| c.is_ascii_alphanumeric() || "+/=_-".contains(c);
    let mut out = String::with_capacity(word.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        let looks_secret = run.len() >= MIN_TOKEN_CHARS
            && run.chars().any(|c| c.is_ascii_digit())
            && run.chars().any(|c| c.is_ascii_alphabetic());
        if looks_secret {
            out.push_str(crate::REDACTED);
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in word.chars() {
        if is_key_char(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_is_the_first_word_or_quoted_string() {
        assert_eq!(program_of("/usr/bin/get --secret x"), "/usr/bin/get");
        assert_eq!(program_of("  \"/opt/my tools/get\" --x"), "/opt/my tools/get");
        assert_eq!(program_of("get"), "get");
    }

    #[test]
    fn build_checks_and_debug_hides_the_arguments() {
        assert!(CredentialProcessSource::builder("  ").build().is_err());
        assert!(
            CredentialProcessSource::builder("x")
                .timeout(Duration::ZERO)
                .build()
                .is_err()
        );
        assert!(
            CredentialProcessSource::builder("x")
                .max_output_bytes(0)
                .build()
                .is_err()
        );
        let s = CredentialProcessSource::builder("/bin/get --password hunter2")
            .build()
            .unwrap();
        assert_eq!(s.timeout, DEFAULT_PROCESS_TIMEOUT);
        assert_eq!(s.max_output_bytes, DEFAULT_MAX_OUTPUT_BYTES);
        assert_eq!(s.name(), "process");
        let shown = format!("{s:?}");
        assert!(shown.contains("/bin/get") && !shown.contains("hunter2"), "{shown}");
        let b = format!("{:?}", CredentialProcessSource::builder("/bin/get --password hunter2"));
        assert!(!b.contains("hunter2"), "{b}");
    }

    #[test]
    fn stderr_is_redacted_then_cut() {
        let text = "error: token expired for AKIAIOSFODNN7EXAMPLE\n\
                    secret=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY password: hunter2 \
                    {\"SessionToken\": \"short\"} see /var/log/helper.log";
        let shown = stderr_excerpt(text.as_bytes());
        for secret in ["AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI", "hunter2", "short"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.starts_with("error: token expired for ** redacted **"), "{shown}");
        assert!(shown.contains("/var/log/helper.log"), "{shown}");
        let long = "x ".repeat(10_000);
        assert_eq!(stderr_excerpt(long.as_bytes()).chars().count(), STDERR_SHOWN_CHARS + 1);
        assert_eq!(stderr_excerpt(b"\xff\xfe oops"), "\u{fffd}\u{fffd} oops");
    }

    #[cfg(unix)]
    #[test]
    fn exit_statuses_have_their_classes() {
        use std::os::unix::process::ExitStatusExt;
        let class = |raw: i32| exit_error("p", ExitStatus::from_raw(raw), b"").class();
        assert_eq!(class(127 << 8), ErrorClass::InvalidConfiguration);
        assert_eq!(class(126 << 8), ErrorClass::InvalidConfiguration);
        assert_eq!(class(1 << 8), ErrorClass::Retryable);
        assert_eq!(class(9), ErrorClass::Retryable);
        let e = exit_error("p", ExitStatus::from_raw(2 << 8), b"");
        assert_eq!(
            e.to_string(),
            "credential_process `p` exited with status 2 (nothing on stderr) (retryable)"
        );
    }
}
