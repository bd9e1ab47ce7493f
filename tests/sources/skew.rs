//! A local clock two hours off the services' clock (the emulator's
//! [clock skew](credrefresh::testing::EmulatorBuilder::clock_skew)): the
//! credentials' lifetime is measured against the answer's `Date` and mapped
//! onto the local clock, and STS calls are signed again with the service's
//! time after a refusal for a signature out of date. Real time over
//! loopback.

use std::time::{Duration, SystemTime};

use credrefresh::clock::{Clock, SystemClock};
use credrefresh::sources::sts::{AssumeRoleSource, WebIdentitySource};
use credrefresh::sources::{EcsSource, ImdsSource, StaticSource};
use credrefresh::testing::{Call, Emulator, Fault};
use credrefresh::{Credentials, ErrorClass, FetchContext, Source};

const TWO_HOURS: i64 = 2 * 3600;
const HOUR: Duration = Duration::from_secs(3600);
const ARN: &str = "arn:aws:iam::123456789012:role/skew";

fn ctx() -> FetchContext {
    FetchContext::system("skew")
}

fn skewed(skew: i64) -> Emulator {
    Emulator::builder().clock_skew(skew).start().unwrap()
}

/// Fetches once from `source`, asserting the credentials expire an hour
/// after the local time of the fetch (the emulator's default lifetime), give
/// or take the `Date` header's whole seconds.
async fn assert_an_hour_on_the_local_clock(source: &dyn Source, skew: i64) -> Credentials {
    let before = SystemClock.now();
    let credentials = source.fetch(ctx()).await.unwrap_or_else(|e| panic!("skew {skew}: {e}"));
    let after = SystemClock.now();
    let expiry = credentials.expiry().expect("an expiry");
    let slack = Duration::from_secs(2);
    assert!(
        expiry + slack >= before + HOUR && expiry <= after + HOUR + slack,
        "skew {skew}: expiry {:?} s from the fetch, not an hour",
        expiry.duration_since(before).map(|d| d.as_secs_f64()).unwrap_or(-1.0)
    );
    assert!(!credentials.is_expired_at(after), "skew {skew}");
    credentials
}

#[tokio::test]
async fn imds_credentials_live_their_lifetime_on_the_local_clock() {
    for skew in [TWO_HOURS, -TWO_HOURS] {
        let emulator = skewed(skew);
        let source = ImdsSource::builder()
            .env_lookup(|_| None)
            .endpoint(emulator.imds_endpoint())
            .build()
            .unwrap();
        assert_an_hour_on_the_local_clock(&source, skew).await;
    }
}

#[tokio::test]
async fn container_credentials_live_their_lifetime_on_the_local_clock() {
    for skew in [TWO_HOURS, -TWO_HOURS] {
        let emulator = skewed(skew);
        let source = EcsSource::builder()
            .env_lookup(|_| None)
            .full_uri(emulator.ecs_full_uri())
            .auth_token(emulator.ecs_auth_token())
            .build()
            .unwrap();
        assert_an_hour_on_the_local_clock(&source, skew).await;
    }
}

#[tokio::test]
async fn web_identity_credentials_live_their_lifetime_on_the_local_clock() {
    let file = std::env::temp_dir().join(format!("credrefresh-skew-token-{}", std::process::id()));
    std::fs::write(&file, "header.payload.signature\n").unwrap();
    for skew in [TWO_HOURS, -TWO_HOURS] {
        let emulator = skewed(skew);
        let source = WebIdentitySource::builder(ARN, &file)
            .region("us-east-1")
            .endpoint(emulator.sts_endpoint())
            .build()
            .unwrap();
        assert_an_hour_on_the_local_clock(&source, skew).await;
    }
    let _ = std::fs::remove_file(&file);
}

fn long_term_keys() -> StaticSource {
    StaticSource::new(
        Credentials::new(
            "AKIAEMULATORSKEW0001",
            "emulator-skew-secret-key-000000000000000",
            SystemTime::UNIX_EPOCH,
        )
        .unwrap(),
    )
}

/// The crate's `AssumeRoleSource`, signing with the local clock.
fn assume_role(emulator: &Emulator) -> AssumeRoleSource {
    AssumeRoleSource::builder(ARN, long_term_keys())
        .region("us-east-1")
        .endpoint(emulator.sts_endpoint())
        .build()
        .unwrap()
}

/// The `X-Amz-Date` a recorded request was signed with.
fn signed_at(request: &credrefresh::testing::RecordedRequest) -> SystemTime {
    let raw = request.header("x-amz-date").expect("signed");
    let format = time::format_description::parse("[year][month][day]T[hour][minute][second]Z").unwrap();
    SystemTime::from(time::PrimitiveDateTime::parse(raw, &format).unwrap().assume_utc())
}

/// Whether `t` is within a minute of `want`.
fn near(t: SystemTime, want: SystemTime) -> bool {
    let gap = t.duration_since(want).or_else(|e| Ok::<_, ()>(e.duration())).unwrap();
    gap < Duration::from_secs(60)
}

fn shifted(t: SystemTime, secs: i64) -> SystemTime {
    if secs >= 0 {
        t + Duration::from_secs(secs.unsigned_abs())
    } else {
        t - Duration::from_secs(secs.unsigned_abs())
    }
}

#[tokio::test]
async fn assume_role_signs_again_with_the_service_clock_after_a_refusal() {
    for skew in [TWO_HOURS, -TWO_HOURS] {
        let emulator = skewed(skew);
        let source = assume_role(&emulator);

        // The first fetch succeeds: one refused request, then one accepted.
        let first = assert_an_hour_on_the_local_clock(&source, skew).await;
        let sent = emulator.requests(Call::AssumeRole);
        assert_eq!(sent.len(), 2, "skew {skew}: {sent:?}");
        let local = SystemClock.now();
        assert!(
            near(signed_at(&sent[0]), local),
            "skew {skew}: signed with the local clock first"
        );
        assert!(
            near(signed_at(&sent[1]), shifted(local, skew)),
            "skew {skew}: then with the service's"
        );
        assert_eq!(emulator.issued().len(), 1);
        assert_eq!(emulator.issued()[0].access_key_id, first.access_key_id());

        // Later fetches are signed right the first time.
        for n in 0..2 {
            assert_an_hour_on_the_local_clock(&source, skew).await;
            let sent = emulator.requests(Call::AssumeRole);
            assert_eq!(sent.len(), 3 + n, "skew {skew}: one request per fetch");
            assert!(near(signed_at(sent.last().unwrap()), shifted(SystemClock.now(), skew)));
        }
    }
}

#[tokio::test]
async fn a_signature_refusal_without_skew_is_not_signed_again() {
    // No skew: the refusal is about the signature, not the time.
    let emulator = Emulator::start().unwrap();
    let source = assume_role(&emulator);
    emulator.script(
        Call::AssumeRole,
        [Fault::AwsError {
            status: 403,
            code: "SignatureDoesNotMatch".into(),
            message: "The request signature we calculated does not match the signature you provided.".into(),
        }],
    );
    let error = source.fetch(ctx()).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::CredentialsRejected, "{error}");
    assert_eq!(emulator.count(Call::AssumeRole), 1, "no second request");
}

#[tokio::test]
async fn the_sts_source_corrects_a_refusal_for_its_clock_and_keeps_the_correction() {
    // Moved from tests/emulator/skew.rs, where it expected the refusal to
    // be read as rejected credentials: it is now corrected.
    let emulator = skewed(TWO_HOURS);
    let source = assume_role(&emulator);
    let credentials = source.fetch(ctx()).await.unwrap();
    assert_eq!(emulator.issued()[0].access_key_id, credentials.access_key_id());
    assert_eq!(emulator.count(Call::AssumeRole), 2);

    // The service's clock moves back within the tolerance of the corrected
    // signing time: still served, in one request.
    emulator.set_clock_skew(TWO_HOURS - 120);
    let credentials = source.fetch(ctx()).await.unwrap();
    assert_eq!(emulator.issued()[1].access_key_id, credentials.access_key_id());
    assert_eq!(emulator.count(Call::AssumeRole), 3);
}
