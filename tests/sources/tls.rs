//! The sources' TLS: every source's client checks the server's certificate
//! against the system's roots (one verifier, built once and shared by every
//! client), so a server with a certificate no root vouches for is refused.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use credrefresh::sources::StaticSource;
use credrefresh::sources::sts::AssumeRoleSource;
use credrefresh::{Credentials, ErrorClass, FetchContext, Source};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A TLS server on 127.0.0.1 with a self-signed certificate (for
/// `localhost` and 127.0.0.1, made with openssl, 100 years): it takes one
/// connection, runs the handshake and sends how the handshake ended.
fn self_signed_server() -> (u16, mpsc::Receiver<String>) {
    let cert = CertificateDer::from(include_bytes!("../data/tls/self-signed-localhost.cert.der").to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        include_bytes!("../data/tls/self-signed-localhost.key.der").to_vec(),
    ));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("the test certificate");
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let port = listener.local_addr().expect("its address").port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let Ok((mut tcp, _)) = listener.accept() else { return };
        let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
        let mut tls = rustls::ServerConnection::new(Arc::new(config)).expect("a server connection");
        let outcome = loop {
            match tls.complete_io(&mut tcp) {
                Ok(_) if !tls.is_handshaking() => break "the handshake completed".to_string(),
                Ok((0, 0)) => break "the client closed the connection".to_string(),
                Ok(_) => {}
                Err(e) => break e.to_string(),
            }
        };
        let _ = tx.send(outcome);
    });
    (port, rx)
}

fn assume_role_at(endpoint: &str) -> AssumeRoleSource {
    let base = StaticSource::new(
        Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            std::time::SystemTime::UNIX_EPOCH,
        )
        .expect("base keys"),
    );
    AssumeRoleSource::builder("arn:aws:iam::123456789012:role/tls", base)
        .endpoint(endpoint)
        .region("us-east-1")
        .connect_timeout(Duration::from_secs(5))
        .build()
        .expect("the source")
}

#[tokio::test]
async fn a_certificate_no_system_root_vouches_for_is_refused() {
    // Two sources, so that the second one's client is a copy of the
    // shared TLS settings: both must check.
    for _ in 0..2 {
        let (port, outcome) = self_signed_server();
        let source = assume_role_at(&format!("https://127.0.0.1:{port}"));
        let error = source
            .fetch(FetchContext::system("tls-test"))
            .await
            .expect_err("an unknown certificate authority must be refused");
        assert_eq!(error.class(), ErrorClass::Retryable, "{error}");
        let seen = outcome
            .recv_timeout(Duration::from_secs(10))
            .expect("the server's handshake outcome");
        // The client checked the certificate and refused it with a
        // certificate alert (rustls-platform-verifier's: CertificateUnknown).
        assert!(
            seen.starts_with("received fatal alert: ")
                && ["CertificateUnknown", "UnknownCA", "BadCertificate"]
                    .iter()
                    .any(|alert| seen.ends_with(alert)),
            "the server saw: {seen}"
        );
    }
}
