//! A canned loopback HTTP server for the STS tests that need exact bytes on
//! the wire (the emulator covers scripted faults).

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A loopback server answering each connection with the next canned
/// response (`connection: close`), recording what it received.
pub struct Canned {
    pub endpoint: String,
    pub received: Arc<Mutex<Vec<String>>>,
}

pub enum Reply {
    Full(u16, String),
    /// Announces more bytes than it sends, then closes.
    Truncated(String),
    /// A status, extra header lines (each ending in `\r\n`) and a body.
    WithHeaders(u16, String, String),
}

pub async fn canned(replies: Vec<Reply>) -> Canned {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    tokio::spawn(async move {
        for reply in replies {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // Headers, then as much body as content-length says.
            loop {
                let n = socket.read(&mut buf).await.unwrap();
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().to_string())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if request.len() >= end + 4 + len {
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            log.lock().unwrap().push(String::from_utf8_lossy(&request).to_string());
            let raw = match reply {
                Reply::Full(status, body) => format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                ),
                Reply::WithHeaders(status, headers, body) => format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: text/xml\r\ncontent-length: {}\r\n{headers}connection: close\r\n\r\n{body}",
                    body.len()
                ),
                Reply::Truncated(body) => format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                    body.len(),
                    &body[..body.len() / 2]
                ),
            };
            socket.write_all(raw.as_bytes()).await.unwrap();
            socket.shutdown().await.ok();
        }
    });
    Canned { endpoint, received }
}

/// An AssumeRole success with the issued secret and token.
pub fn assume_role_answer_with(secret: &str, token: &str) -> String {
    format!(
        "<AssumeRoleResponse><AssumeRoleResult><AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/r/s</Arn>\
         </AssumedRoleUser><Credentials><AccessKeyId>ASIAISSUED</AccessKeyId><SecretAccessKey>{secret}</SecretAccessKey>\
         <SessionToken>{token}</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>\
         </AssumeRoleResult></AssumeRoleResponse>"
    )
}

/// An STS error document.
pub fn error_answer(code: &str) -> String {
    format!(
        "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>nope</Message></Error>\
         <RequestId>req-1</RequestId></ErrorResponse>"
    )
}

/// An AssumeRole success.
pub fn assume_role_answer() -> String {
    assume_role_answer_with("issued-SECRET-9drTJvcXLB89EXAMPLE", "issued-TOKEN-AQoDYXdzEJr")
}
