//! Hostile or broken clients: oversized heads and bodies, slow requests, a
//! flood from one address. Each gets its status, nothing leaks, and everyone
//! else keeps being served.

use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::support::*;

async fn still_serves(agent: &credrefresh::agent::Agent) {
    let addr = agent.container_addrs()[0];
    let answer = get(addr, "/v1/credentials/app", &[("authorization", APP_TOKEN)]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
}

#[tokio::test]
async fn oversized_heads_get_431_and_bodies_413() {
    let agent = agent(GENEROUS).await;
    let addr = agent.container_addrs()[0];
    let big = "x".repeat(20_000);
    let answer = get(
        addr,
        "/v1/credentials/app",
        &[("authorization", APP_TOKEN), ("x-padding", &big)],
    )
    .await;
    assert_eq!(answer.status, 431, "{answer:?}");
    assert_clean("a 431", &answer.body);

    // A declared length over the cap, and a chunked body that grows past it.
    let declared = raw(
        addr,
        format!(
            "GET /v1/credentials/app HTTP/1.1\r\nhost: a\r\nauthorization: {APP_TOKEN}\r\ncontent-length: 5000\r\nconnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(declared.status, 413, "{declared:?}");
    assert_clean("a 413", &declared.body);
    let chunk = "y".repeat(2_000);
    let chunked = raw(
        addr,
        format!(
            "GET /v1/credentials/app HTTP/1.1\r\nhost: a\r\nauthorization: {APP_TOKEN}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
            chunk.len()
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(chunked.status, 413, "{chunked:?}");
    assert_clean("a 413", &chunked.body);
    still_serves(&agent).await;
    agent.shutdown().await;
}

#[tokio::test]
async fn slow_requests_get_408() {
    let agent = agent(&format!("{GENEROUS}request_timeout_ms = 300\n")).await;
    let addr = agent.container_addrs()[0];
    // A head that never ends.
    let mut stream = connect(None, addr).await;
    stream
        .write_all(format!("GET /v1/credentials/app HTTP/1.1\r\nauthorization: {APP_TOKEN}\r\n").as_bytes())
        .await
        .unwrap();
    let answer = read_answer(&mut stream).await;
    assert_eq!(answer.status, 408, "{answer:?}");
    // A body that never comes.
    let mut stream = connect(None, addr).await;
    stream
        .write_all(
            format!("GET /v1/credentials/app HTTP/1.1\r\nhost: a\r\nauthorization: {APP_TOKEN}\r\ncontent-length: 10\r\n\r\nabc")
                .as_bytes(),
        )
        .await
        .unwrap();
    let answer = read_answer(&mut stream).await;
    assert_eq!(answer.status, 408, "{answer:?}");
    assert_clean("a 408", &answer.body);
    // An idle connection is closed without a word.
    let mut idle = connect(None, addr).await;
    let mut bytes = Vec::new();
    let read = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::io::AsyncReadExt::read_to_end(&mut idle, &mut bytes),
    )
    .await;
    assert!(read.is_ok() && bytes.is_empty(), "{bytes:?}");
    still_serves(&agent).await;
    agent.shutdown().await;
}

#[tokio::test]
async fn a_flood_from_one_client_gets_429_while_another_is_served() {
    let agent = agent("[limits]\nrate_per_second = 1.0\nburst = 5\n").await;
    let addr = agent.container_addrs()[0];
    let mut statuses = Vec::new();
    for _ in 0..30 {
        let answer = raw_from(
            Some("127.0.0.1"),
            addr,
            &request("GET", "/v1/credentials/app", &[("authorization", APP_TOKEN)]),
        )
        .await;
        if answer.status == 429 {
            assert_eq!(answer.json()["Code"], "Throttling");
            assert!(answer.head.contains("retry-after: 1"));
            assert_clean("a 429", &answer.body);
        }
        statuses.push(answer.status);
    }
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert!(limited >= 20, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 429), "{statuses:?}");
    // Another client address has its own bucket.
    for _ in 0..3 {
        let answer = raw_from(
            Some("127.0.0.2"),
            addr,
            &request("GET", "/v1/credentials/app", &[("authorization", APP_TOKEN)]),
        )
        .await;
        assert_eq!(answer.status, 200, "{answer:?}");
    }
    agent.shutdown().await;
    assert_clean("the logs", &logs().text());
}
