//! The IMDSv2-compatible endpoint: session tokens, the listing, the role
//! document, the library's IMDS source reading it, and refusals.

use std::time::Duration;

use credrefresh::sources::ImdsSource;
use credrefresh::{FetchContext, Source};

use crate::support::*;

const TTL: &str = "x-aws-ec2-metadata-token-ttl-seconds";
const TOKEN: &str = "x-aws-ec2-metadata-token";
const LIST: &str = "/latest/meta-data/iam/security-credentials/";

async fn session(addr: std::net::SocketAddr, ttl: &str) -> String {
    let answer = raw(addr, &request("PUT", "/latest/api/token", &[(TTL, ttl)])).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.head.contains(&format!("{TTL}: {ttl}")));
    answer.body
}

#[tokio::test]
async fn serves_the_imds_document_that_the_imds_source_reads() {
    let agent = agent(GENEROUS).await;
    let addr = agent.imds_addrs()[0];
    let token = session(addr, "21600").await;
    let list = get(addr, LIST, &[(TOKEN, &token)]).await;
    assert_eq!((list.status, list.body.as_str()), (200, "app"));
    let doc = get(addr, &format!("{LIST}app"), &[(TOKEN, &token)]).await;
    assert_eq!(doc.status, 200, "{doc:?}");
    let json = doc.json();
    assert_eq!(json["Code"], "Success");
    assert_eq!(json["Type"], "AWS-HMAC");
    assert_eq!(json["AccessKeyId"], KEY_ID);
    assert_eq!(json["SecretAccessKey"], SECRET);
    assert_eq!(json["Token"], SESSION_TOKEN);
    assert_eq!(json["Expiration"], "2999-01-01T00:00:00Z");
    assert!(json["LastUpdated"].is_string());

    // The library's IMDS source (as the SDKs': token, listing, document).
    let source = ImdsSource::builder()
        .env_lookup(|_| None)
        .endpoint(format!("http://{addr}"))
        .build()
        .unwrap();
    let creds = source.fetch(FetchContext::system("imds")).await.unwrap();
    assert_eq!(creds.access_key_id(), KEY_ID);
    agent.shutdown().await;
}

#[tokio::test]
async fn imds_refusals() {
    let agent = agent(GENEROUS).await;
    let addr = agent.imds_addrs()[0];
    // Tokens: no TTL, a TTL out of range, a forwarded request, a GET.
    for headers in [vec![], vec![(TTL, "0")], vec![(TTL, "21601")], vec![(TTL, "abc")]] {
        let answer = raw(addr, &request("PUT", "/latest/api/token", &headers)).await;
        assert_eq!(answer.status, 400, "{headers:?}: {answer:?}");
    }
    let forwarded = raw(
        addr,
        &request(
            "PUT",
            "/latest/api/token",
            &[(TTL, "60"), ("x-forwarded-for", "10.0.0.1")],
        ),
    )
    .await;
    assert_eq!(forwarded.status, 403);
    assert_eq!(get(addr, "/latest/api/token", &[(TTL, "60")]).await.status, 405);

    // Credentials: no token, a wrong one, one from another agent's key.
    let token = session(addr, "60").await;
    for headers in [
        vec![],
        vec![(TOKEN, "not-a-token")],
        vec![(TOKEN, &token[..token.len() - 2])],
    ] {
        for path in [LIST.to_owned(), format!("{LIST}app")] {
            let answer = get(addr, &path, &headers).await;
            assert_eq!(answer.status, 401, "{path} {headers:?}: {answer:?}");
            assert_clean("an IMDS refusal", &answer.body);
        }
    }
    // A role the IMDS listener does not serve, and another path.
    assert_eq!(get(addr, &format!("{LIST}other"), &[(TOKEN, &token)]).await.status, 404);
    assert_eq!(get(addr, &format!("{LIST}nope"), &[(TOKEN, &token)]).await.status, 404);
    assert_eq!(
        get(
            addr,
            "/latest/meta-data/iam/security-credentials-extended/",
            &[(TOKEN, &token)]
        )
        .await
        .status,
        404
    );
    // The container path is not served on the IMDS listener, nor IMDS on the container one.
    assert_eq!(
        get(addr, "/v1/credentials/app", &[("authorization", APP_TOKEN)])
            .await
            .status,
        404
    );
    let container = agent.container_addrs()[0];
    assert_eq!(
        get(container, &format!("{LIST}app"), &[(TOKEN, &token)]).await.status,
        404
    );

    // A token stops working when its TTL is over.
    let short = session(addr, "1").await;
    assert_eq!(get(addr, LIST, &[(TOKEN, &short)]).await.status, 200);
    let expired = tokio::time::timeout(Duration::from_secs(5), async {
        while get(addr, LIST, &[(TOKEN, &short)]).await.status != 401 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(expired.is_ok(), "a 1 s token still works after 5 s");
    agent.shutdown().await;
    assert_clean("the logs", &logs().text());
}
