//! `/healthz`, `/status` and `/metrics`: on every listener, without secrets.

use crate::support::*;

#[tokio::test]
async fn health_status_and_metrics() {
    let agent = agent(GENEROUS).await;
    let addr = agent.container_addrs()[0];
    let _ = get(addr, "/v1/credentials/app", &[("authorization", APP_TOKEN)]).await;
    let _ = get(addr, "/v1/credentials/app", &[]).await;
    let _ = get(addr, "/v1/credentials/evil-label", &[("authorization", APP_TOKEN)]).await;

    for listener in [addr, agent.imds_addrs()[0]] {
        let health = get(listener, "/healthz", &[]).await;
        assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
    }

    let status = get(addr, "/status", &[]).await;
    assert_eq!(status.status, 200);
    let json = status.json();
    let roles = json["roles"].as_array().unwrap();
    assert_eq!(roles.len(), 2);
    assert_eq!(roles[0]["role"], "app");
    assert_eq!(roles[0]["state"], "fresh");
    assert_eq!(roles[0]["usable"], true);
    assert_eq!(roles[0]["expiration"], "2999-01-01T00:00:00Z");
    assert!(roles[0]["last_error_class"].is_null());
    assert_clean("/status", &status.body);

    let metrics = get(addr, "/metrics", &[]).await;
    assert_eq!(metrics.status, 200);
    let text = &metrics.body;
    assert!(
        text.contains("credrefresh_role_info{role=\"app\",source=\"static\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("credrefresh_agent_requests_total{endpoint=\"container\",outcome=\"ok\",role=\"app\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "credrefresh_agent_requests_total{endpoint=\"container\",outcome=\"unauthorized\",role=\"app\"} 1"
        ),
        "{text}"
    );
    // A role name from the network never becomes a label.
    assert!(!text.contains("evil"), "{text}");
    assert!(
        text.contains("credrefresh_agent_requests_total{endpoint=\"container\",outcome=\"not_found\",role=\"-\"} 1"),
        "{text}"
    );
    assert_clean("/metrics", text);
    agent.shutdown().await;
}

#[tokio::test]
async fn a_metrics_listener_serves_the_pages_and_no_credentials() {
    let agent = agent(&format!("[metrics]\nlisten = [\"127.0.0.1:0\"]\n{GENEROUS}")).await;
    let addr = agent.metrics_addrs()[0];
    assert_eq!(get(addr, "/metrics", &[]).await.status, 200);
    assert_eq!(get(addr, "/status", &[]).await.status, 200);
    let answer = get(addr, "/v1/credentials/app", &[("authorization", APP_TOKEN)]).await;
    assert_eq!(answer.status, 404, "{answer:?}");
    assert_clean("the metrics listener", &answer.body);
    let answer = raw(
        addr,
        &request(
            "PUT",
            "/latest/api/token",
            &[("x-aws-ec2-metadata-token-ttl-seconds", "60")],
        ),
    )
    .await;
    assert_eq!(answer.status, 404, "{answer:?}");
    agent.shutdown().await;
}
