//! The emulator starts on loopback only, rejects bad configuration, works
//! from any kind of caller, and stops when dropped.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;

use credrefresh::clock::{Clock, SystemClock};
use credrefresh::testing::{Call, DEFAULT_ECS_AUTH_TOKEN, Emulator, Fault};

fn client(timeout: Option<Duration>) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder().no_proxy();
    if let Some(timeout) = timeout {
        builder = builder.timeout(timeout);
    }
    builder.build().expect("client")
}

async fn ecs_status(emulator: &Emulator, client: &reqwest::Client) -> u16 {
    client
        .get(emulator.ecs_full_uri())
        .header("authorization", emulator.ecs_auth_token())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn only_loopback_addresses_are_accepted() {
    for addr in ["0.0.0.0:0", "10.1.2.3:0", "[::]:0"] {
        let addr: SocketAddr = addr.parse().unwrap();
        let error = Emulator::builder().bind(addr).start().expect_err("not loopback");
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "{addr}");
        assert!(error.to_string().contains("loopback"), "{error}");
    }
    // An explicit loopback port is used as given.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let emulator = Emulator::builder()
        .bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .start()
        .unwrap();
    assert_eq!(emulator.endpoint(), format!("http://127.0.0.1:{port}"));
    // The port is now taken.
    let taken = Emulator::builder()
        .bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .start();
    assert_eq!(taken.expect_err("port in use").kind(), ErrorKind::AddrInUse);
}

#[test]
fn bad_configuration_is_refused_without_echoing_secrets() {
    let cases = [
        Emulator::builder().account_id("12345"),
        Emulator::builder().account_id("12345678901a"),
        Emulator::builder().imds_role_name(""),
        Emulator::builder().imds_role_name("path/role"),
        Emulator::builder().imds_role_name("r".repeat(65)),
        Emulator::builder().ecs_auth_token(""),
    ];
    for builder in cases {
        assert_eq!(builder.start().expect_err("invalid").kind(), ErrorKind::InvalidInput);
    }
    let error = Emulator::builder()
        .ecs_auth_token("secret-token\nwith-a-newline")
        .start()
        .expect_err("not a header value");
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(!error.to_string().contains("secret-token"), "{error}");
}

#[test]
fn the_defaults_are_the_documented_ones() {
    let emulator = Emulator::start().unwrap();
    assert!(emulator.endpoint().starts_with("http://127.0.0.1:"));
    assert_eq!(emulator.sts_endpoint(), emulator.endpoint());
    assert_eq!(emulator.imds_endpoint(), emulator.endpoint());
    assert_eq!(
        emulator.ecs_full_uri(),
        format!("{}/ecs/credentials", emulator.endpoint())
    );
    assert_eq!(emulator.ecs_auth_token(), DEFAULT_ECS_AUTH_TOKEN);
    assert_eq!(emulator.imds_role_name(), "credrefresh-emulator-role");
    assert_eq!(emulator.account_id(), "123456789012");
    for call in Call::ALL {
        assert_eq!(emulator.count(call), 0);
        assert!(emulator.requests(call).is_empty());
    }
    assert!(emulator.issued().is_empty() && emulator.issued_secrets().is_empty());
}

#[tokio::test]
async fn dropping_stops_it_even_with_a_request_hanging() {
    let emulator = Emulator::start().unwrap();
    let address = emulator.endpoint().trim_start_matches("http://").to_string();
    emulator.script(Call::Ecs, [Fault::Hang]);
    let request = client(None)
        .get(emulator.ecs_full_uri())
        .header("authorization", emulator.ecs_auth_token())
        .send();
    let pending = tokio::spawn(request);

    // Wait until the hanging request has arrived.
    let deadline = SystemClock.now() + Duration::from_secs(10);
    while emulator.count(Call::Ecs) == 0 {
        assert!(SystemClock.now() < deadline, "the request never arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(emulator);

    let outcome = tokio::time::timeout(Duration::from_secs(10), pending)
        .await
        .expect("the hung request ends when the emulator is dropped")
        .unwrap();
    assert!(outcome.is_err(), "no answer was ever sent");
    assert!(
        std::net::TcpStream::connect(address).is_err(),
        "nothing listens any more"
    );
}

#[tokio::test(start_paused = true)]
async fn it_runs_on_real_time_under_paused_tokio_time() {
    let emulator = Emulator::start().unwrap();
    let delay = Duration::from_millis(200);
    emulator.script(Call::Ecs, [Fault::Delay(delay)]);
    let start = SystemClock.now();
    // No client timeout: under paused time it would fire while waiting on I/O.
    assert_eq!(ecs_status(&emulator, &client(None)).await, 200);
    assert!(SystemClock.now().duration_since(start).unwrap() >= delay);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn it_starts_and_drops_inside_a_multi_thread_runtime() {
    let emulator = Emulator::start().unwrap();
    assert_eq!(ecs_status(&emulator, &client(Some(Duration::from_secs(10)))).await, 200);
    drop(emulator);
}

#[test]
fn it_serves_an_actix_system() {
    let emulator = Emulator::start().unwrap();
    let status =
        actix_rt::System::new().block_on(async { ecs_status(&emulator, &client(Some(Duration::from_secs(10)))).await });
    assert_eq!(status, 200);
    assert_eq!(emulator.count(Call::Ecs), 1);
}

#[tokio::test]
async fn debug_shows_neither_the_container_token_nor_issued_secrets() {
    let builder = Emulator::builder().ecs_auth_token("builder-secret-token");
    assert!(!format!("{builder:?}").contains("builder-secret-token"));
    let emulator = builder.start().unwrap();
    assert_eq!(ecs_status(&emulator, &client(Some(Duration::from_secs(10)))).await, 200);
    let debug = format!("{emulator:?}");
    assert!(debug.contains(&emulator.endpoint()), "{debug}");
    assert!(!debug.contains("builder-secret-token"));
    let secrets = emulator.issued_secrets();
    assert_eq!(secrets.len(), 2);
    assert!(secrets.iter().all(|s| !debug.contains(s.as_str())));
}
