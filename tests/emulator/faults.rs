//! Every fault the emulator injects is observable from the client side, in
//! the call's own protocol; scripts run in order then service recovers;
//! outages last until cleared.

use std::time::{Duration, SystemTime};

use credrefresh::clock::{Clock, SystemClock};
use credrefresh::testing::{Call, Emulator, Fault};

/// The calls faults are tried on: one per protocol, plus the IMDS token.
const CALLS: [Call; 4] = [Call::AssumeRole, Call::ImdsToken, Call::ImdsCredentials, Call::Ecs];

fn client(timeout: Duration) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .build()
        .expect("client")
}

fn normal_client() -> reqwest::Client {
    client(Duration::from_secs(10))
}

const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/sts/aws4_request, \
                             SignedHeaders=host;x-amz-date, Signature=00";

/// Sends one request of `call` with `client`. For IMDS credentials, a token
/// is fetched first with a separate client (the token call is not the one
/// under test).
async fn send(emulator: &Emulator, call: Call, client: &reqwest::Client) -> reqwest::Result<reqwest::Response> {
    let base = emulator.endpoint();
    match call {
        Call::AssumeRole => {
            client
                .post(&base)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("authorization", AUTHORIZATION)
                .header("x-amz-date", "20260101T000000Z")
                .body(format!(
                    "Action=AssumeRole&Version=2011-06-15&RoleSessionName=faults&RoleArn={}",
                    "arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fapp"
                ))
                .send()
                .await
        }
        Call::ImdsToken => {
            client
                .put(format!("{base}/latest/api/token"))
                .header("x-aws-ec2-metadata-token-ttl-seconds", "300")
                .send()
                .await
        }
        Call::ImdsCredentials => {
            let token = imds_token(emulator).await;
            client
                .get(format!(
                    "{base}/latest/meta-data/iam/security-credentials/{}",
                    emulator.imds_role_name()
                ))
                .header("x-aws-ec2-metadata-token", token)
                .send()
                .await
        }
        Call::Ecs => {
            client
                .get(emulator.ecs_full_uri())
                .header("authorization", emulator.ecs_auth_token())
                .send()
                .await
        }
        other => panic!("no request for {other:?} here"),
    }
}

async fn imds_token(emulator: &Emulator) -> String {
    let response = normal_client()
        .put(format!("{}/latest/api/token", emulator.endpoint()))
        .header("x-aws-ec2-metadata-token-ttl-seconds", "300")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// Status and body of a request that must get an answer.
async fn answer(emulator: &Emulator, call: Call) -> (u16, String) {
    let response = send(emulator, call, &normal_client()).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The `Expiration` in a credentials answer (XML or JSON).
fn expiration(call: Call, body: &str) -> SystemTime {
    let text = if call == Call::AssumeRole {
        let start = body.find("<Expiration>").expect("Expiration") + "<Expiration>".len();
        let end = body[start..].find("</Expiration>").expect("end") + start;
        body[start..end].to_string()
    } else {
        let doc: serde_json::Value = serde_json::from_str(body).unwrap();
        doc["Expiration"].as_str().unwrap().to_string()
    };
    SystemTime::from(time::OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339).unwrap())
}

#[tokio::test]
async fn aws_errors_come_in_each_protocols_own_form() {
    let emulator = Emulator::start().unwrap();
    let fault = || Fault::AwsError {
        status: 403,
        code: "AccessDenied".to_string(),
        message: "not <allowed> & not today".to_string(),
    };
    for call in CALLS {
        emulator.script(call, [fault()]);
    }

    let (status, body) = answer(&emulator, Call::AssumeRole).await;
    assert_eq!(status, 403);
    assert!(
        body.starts_with("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"),
        "{body}"
    );
    assert!(body.contains("<Type>Sender</Type>"));
    assert!(body.contains("<Code>AccessDenied</Code>"));
    assert!(body.contains("<Message>not &lt;allowed&gt; &amp; not today</Message>"));
    assert!(body.contains("<RequestId>"));

    let (status, body) = answer(&emulator, Call::ImdsToken).await;
    assert_eq!((status, body.as_str()), (403, "not <allowed> & not today"));

    let (status, body) = answer(&emulator, Call::ImdsCredentials).await;
    assert_eq!(status, 403);
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["Code"], "AccessDenied");
    assert_eq!(doc["Message"], "not <allowed> & not today");
    assert!(doc["LastUpdated"].is_string());

    let (status, body) = answer(&emulator, Call::Ecs).await;
    assert_eq!(status, 403);
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (doc["code"].as_str(), doc["message"].as_str()),
        (Some("AccessDenied"), Some("not <allowed> & not today"))
    );

    // A 5xx error is the service's fault: Type Receiver.
    emulator.script(
        Call::AssumeRole,
        [Fault::AwsError {
            status: 503,
            code: "ServiceUnavailable".into(),
            message: "down".into(),
        }],
    );
    let (status, body) = answer(&emulator, Call::AssumeRole).await;
    assert_eq!(status, 503);
    assert!(body.contains("<Type>Receiver</Type>") && body.contains("<Code>ServiceUnavailable</Code>"));
    assert!(emulator.issued().is_empty(), "faulted requests issue nothing");
}

#[tokio::test]
async fn throttling_is_what_each_service_sends() {
    let emulator = Emulator::start().unwrap();
    for call in CALLS {
        emulator.script(call, [Fault::Throttle]);
    }
    let (status, body) = answer(&emulator, Call::AssumeRole).await;
    assert_eq!(status, 400);
    assert!(
        body.contains("<Code>Throttling</Code>") && body.contains("<Message>Rate exceeded</Message>"),
        "{body}"
    );
    for call in [Call::ImdsToken, Call::ImdsCredentials, Call::Ecs] {
        assert_eq!(answer(&emulator, call).await.0, 429, "{call:?}");
    }
}

#[tokio::test]
async fn a_delay_answers_normally_after_the_delay() {
    let emulator = Emulator::start().unwrap();
    let delay = Duration::from_millis(300);
    for call in CALLS {
        emulator.script(call, [Fault::Delay(delay)]);
        let start = SystemClock.now();
        let (status, _) = answer(&emulator, call).await;
        let took = SystemClock.now().duration_since(start).unwrap();
        assert_eq!(status, 200, "{call:?}");
        assert!(took >= delay, "{call:?} answered after {took:?}");
    }
    assert_eq!(emulator.issued().len(), 3);
}

#[tokio::test]
async fn a_delay_longer_than_the_client_timeout_times_out() {
    let emulator = Emulator::start().unwrap();
    let impatient = client(Duration::from_millis(200));
    for call in CALLS {
        emulator.script(call, [Fault::Delay(Duration::from_secs(30))]);
        let error = send(&emulator, call, &impatient).await.expect_err("timed out");
        assert!(error.is_timeout(), "{call:?}: {error:?}");
    }
}

#[tokio::test]
async fn a_hang_never_answers_and_service_resumes_after_it() {
    let emulator = Emulator::start().unwrap();
    let impatient = client(Duration::from_millis(300));
    for call in CALLS {
        emulator.script(call, [Fault::Hang]);
        let error = send(&emulator, call, &impatient).await.expect_err("no answer");
        assert!(error.is_timeout(), "{call:?}: {error:?}");
        assert_eq!(answer(&emulator, call).await.0, 200, "{call:?} after the hang");
    }
}

#[tokio::test]
async fn a_dropped_connection_fails_at_once_without_an_answer() {
    let emulator = Emulator::start().unwrap();
    for call in CALLS {
        emulator.script(call, [Fault::DropConnection]);
        let start = SystemClock.now();
        let error = send(&emulator, call, &normal_client()).await.expect_err("dropped");
        assert!(!error.is_timeout(), "{call:?}: {error:?}");
        assert!(error.status().is_none());
        assert!(SystemClock.now().duration_since(start).unwrap() < Duration::from_secs(5));
        assert_eq!(answer(&emulator, call).await.0, 200, "{call:?} after the drop");
    }
}

#[tokio::test]
async fn a_truncated_body_has_a_status_and_fails_while_reading() {
    let emulator = Emulator::start().unwrap();
    for call in CALLS {
        emulator.script(call, [Fault::TruncatedBody]);
        let response = send(&emulator, call, &normal_client())
            .await
            .expect("status and headers arrive");
        assert_eq!(response.status(), 200, "{call:?}");
        let declared = response.content_length().expect("Content-Length");
        assert!(declared > 0);
        let error = response.bytes().await.expect_err("the body is cut");
        assert!(!error.is_timeout(), "{call:?}: {error:?}");
    }
}

#[tokio::test]
async fn a_malformed_body_is_a_200_that_does_not_parse() {
    let emulator = Emulator::start().unwrap();
    // Not the token call yet: fetching credentials takes a token first.
    for call in [Call::AssumeRole, Call::ImdsCredentials, Call::Ecs] {
        emulator.script(call, [Fault::MalformedBody]);
    }
    let (status, body) = answer(&emulator, Call::AssumeRole).await;
    assert_eq!(status, 200);
    let mut reader = quick_xml::Reader::from_str(&body);
    let outcome = loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break Ok(()),
            Ok(_) => continue,
            Err(e) => break Err(e),
        }
    };
    assert!(outcome.is_err(), "well-formed XML: {body}");

    for call in [Call::ImdsCredentials, Call::Ecs] {
        let (status, body) = answer(&emulator, call).await;
        assert_eq!(status, 200);
        assert!(
            serde_json::from_str::<serde_json::Value>(&body).is_err(),
            "{call:?}: valid JSON {body}"
        );
    }
    emulator.script(Call::ImdsToken, [Fault::MalformedBody]);
    let (status, token) = answer(&emulator, Call::ImdsToken).await;
    assert_eq!((status, token.as_str()), (200, ""));
}

#[tokio::test]
async fn html500_is_a_load_balancer_page() {
    let emulator = Emulator::start().unwrap();
    for call in CALLS {
        emulator.script(call, [Fault::Html500]);
        let response = send(&emulator, call, &normal_client()).await.unwrap();
        assert_eq!(response.status(), 500);
        assert_eq!(response.headers()["content-type"], "text/html");
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("<h1>500 Internal Server Error</h1>")
        );
    }
}

#[tokio::test]
async fn expired_credentials_are_a_success_from_the_past() {
    let emulator = Emulator::start().unwrap();
    for call in [Call::AssumeRole, Call::ImdsCredentials, Call::Ecs] {
        emulator.script(call, [Fault::ExpiredCredentials]);
        let (status, body) = answer(&emulator, call).await;
        assert_eq!(status, 200, "{call:?}: {body}");
        assert!(expiration(call, &body) < SystemClock.now(), "{call:?} not expired");
        let (_, next) = answer(&emulator, call).await;
        assert!(
            expiration(call, &next) > SystemClock.now(),
            "{call:?} still expired afterwards"
        );
    }
    // On the token call: a token that is refused at once.
    emulator.script(Call::ImdsToken, [Fault::ExpiredCredentials]);
    let (status, token) = answer(&emulator, Call::ImdsToken).await;
    assert_eq!(status, 200);
    let list = normal_client()
        .get(format!(
            "{}/latest/meta-data/iam/security-credentials/",
            emulator.endpoint()
        ))
        .header("x-aws-ec2-metadata-token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 401);
}

#[tokio::test]
async fn a_script_runs_in_order_then_service_resumes() {
    let emulator = Emulator::start().unwrap();
    emulator.script(
        Call::AssumeRole,
        [
            Fault::Throttle,
            Fault::Html500,
            Fault::AwsError {
                status: 403,
                code: "AccessDenied".into(),
                message: "no".into(),
            },
        ],
    );
    // Appended after the first three.
    emulator.script(Call::AssumeRole, [Fault::MalformedBody]);
    let mut statuses = Vec::new();
    let mut bodies = Vec::new();
    for _ in 0..6 {
        let (status, body) = answer(&emulator, Call::AssumeRole).await;
        statuses.push(status);
        bodies.push(body);
    }
    assert_eq!(statuses, [400, 500, 403, 200, 200, 200]);
    assert!(bodies[0].contains("Throttling"));
    assert!(bodies[1].contains("<html>"));
    assert!(bodies[2].contains("AccessDenied"));
    assert!(!bodies[3].contains("</AssumeRoleResponse>"), "the malformed one");
    assert!(bodies[4].contains("</AssumeRoleResponse>") && bodies[5].contains("</AssumeRoleResponse>"));
    assert_eq!(emulator.count(Call::AssumeRole), 6, "faulted requests are counted");
    assert_eq!(emulator.requests(Call::AssumeRole).len(), 6);
    assert_eq!(emulator.issued().len(), 2);
    // Other calls were never touched.
    assert_eq!(answer(&emulator, Call::Ecs).await.0, 200);
}

#[tokio::test]
async fn an_outage_lasts_until_cleared_and_scripts_come_first() {
    let emulator = Emulator::start().unwrap();
    emulator.set_outage(Call::Ecs, Some(Fault::Html500));
    for _ in 0..3 {
        assert_eq!(answer(&emulator, Call::Ecs).await.0, 500);
    }
    emulator.script(Call::Ecs, [Fault::Throttle]);
    assert_eq!(answer(&emulator, Call::Ecs).await.0, 429);
    assert_eq!(answer(&emulator, Call::Ecs).await.0, 500);
    // Another call is unaffected.
    assert_eq!(answer(&emulator, Call::AssumeRole).await.0, 200);
    // Replacing the outage's fault.
    emulator.set_outage(Call::Ecs, Some(Fault::Throttle));
    assert_eq!(answer(&emulator, Call::Ecs).await.0, 429);
    emulator.set_outage(Call::Ecs, None);
    assert_eq!(answer(&emulator, Call::Ecs).await.0, 200);
    assert_eq!(answer(&emulator, Call::Ecs).await.0, 200);
    assert_eq!(emulator.count(Call::Ecs), 8);
}

/// Sends a raw HTTP/1.1 request for the container endpoint and reads until
/// the server closes: what actually crossed the wire.
fn raw_ecs_exchange(emulator: &Emulator) -> Vec<u8> {
    use std::io::{Read, Write};
    let address = emulator.endpoint().trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        stream,
        "GET /ecs/credentials HTTP/1.1\r\nHost: emulator\r\nAuthorization: {}\r\n\r\n",
        emulator.ecs_auth_token()
    )
    .unwrap();
    let mut received = Vec::new();
    stream
        .read_to_end(&mut received)
        .expect("the server closes the connection");
    received
}

#[test]
fn on_the_wire_a_truncated_body_is_half_of_its_content_length() {
    let emulator = Emulator::start().unwrap();
    emulator.script(Call::Ecs, [Fault::TruncatedBody]);
    let received = String::from_utf8(raw_ecs_exchange(&emulator)).unwrap();
    let (head, body) = received.split_once("\r\n\r\n").expect("a complete head");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    let declared: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_string)
        })
        .expect("Content-Length")
        .parse()
        .unwrap();
    assert_eq!(body.len(), declared / 2, "sent {} of {declared} bytes", body.len());
    // (The body holds a secret: not printed.)
    assert!(
        body.starts_with("{\"AccessKeyId\":\"ASIA"),
        "not the credentials document"
    );
}

#[test]
fn on_the_wire_a_dropped_connection_sends_nothing() {
    let emulator = Emulator::start().unwrap();
    emulator.script(Call::Ecs, [Fault::DropConnection]);
    assert!(raw_ecs_exchange(&emulator).is_empty());
    assert_eq!(emulator.count(Call::Ecs), 1);
}
