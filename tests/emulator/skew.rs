//! The emulator's clock skew: its `Date` header, its expirations and STS's
//! check of the time a request was signed follow the skewed clock, so a
//! client whose clock is wrong can be tested.

use std::time::{Duration, SystemTime};

use credrefresh::clock::{Clock, ManualClock, SystemClock};
use credrefresh::testing::{Call, Emulator};

use crate::client::{client, rfc3339};

/// 2026-11-30T02:00:00Z: the local clock of these tests.
const LOCAL_UNIX: u64 = 1_796_004_000;
const TWO_HOURS: i64 = 2 * 3600;

fn local() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(LOCAL_UNIX)
}

/// `t` as SigV4's `X-Amz-Date`.
fn amz_date(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses an IMF-fixdate `Date` header, asserting its form.
fn http_date(text: &str) -> SystemTime {
    let format = time::format_description::parse(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT",
    )
    .unwrap();
    let parsed = time::PrimitiveDateTime::parse(text, &format).unwrap_or_else(|e| panic!("{text}: {e}"));
    SystemTime::from(parsed.assume_utc())
}

/// The single `Date` header of an answer.
fn date_of(response: &reqwest::Response) -> SystemTime {
    let dates: Vec<_> = response.headers().get_all("date").iter().collect();
    assert_eq!(dates.len(), 1, "one Date header: {dates:?}");
    http_date(dates[0].to_str().unwrap())
}

/// An `AssumeRole` request signed (in shape) at `signed_at`.
fn assume_role(emulator: &Emulator, signed_at: SystemTime) -> reqwest::RequestBuilder {
    assume_role_dated(emulator, &amz_date(signed_at))
}

/// An `AssumeRole` request whose `X-Amz-Date` is `date`.
fn assume_role_dated(emulator: &Emulator, date: &str) -> reqwest::RequestBuilder {
    let day = date.get(..8).unwrap_or("20261130");
    client()
        .post(emulator.sts_endpoint())
        .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential=AKIDSKEWTEST/{day}/us-east-1/sts/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date, Signature=0123456789abcdef"
            ),
        )
        .header("x-amz-date", date)
        .body(
            "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fskew\
             &RoleSessionName=skew-test",
        )
}

/// Asserts an STS `SignatureDoesNotMatch` error with `message`.
async fn assert_refused(response: reqwest::Response, message: &str) {
    assert_eq!(response.status(), 403);
    let body = response.text().await.unwrap();
    assert!(body.contains("<Type>Sender</Type>"), "{body}");
    assert!(body.contains("<Code>SignatureDoesNotMatch</Code>"), "{body}");
    assert!(body.contains(&format!("<Message>{message}</Message>")), "{body}");
}

fn expiration(body: &str) -> SystemTime {
    let start = body.find("<Expiration>").unwrap() + "<Expiration>".len();
    let end = body.find("</Expiration>").unwrap();
    rfc3339(&body[start..end])
}

#[tokio::test]
async fn every_answer_carries_the_skewed_date() {
    let emulator = Emulator::builder()
        .clock(ManualClock::new(local()))
        .clock_skew(TWO_HOURS)
        .start()
        .unwrap();
    let ahead = local() + Duration::from_secs(2 * 3600);
    let client = client();

    // STS (an error answer too), IMDS and the container endpoint.
    let sts = assume_role(&emulator, ahead).send().await.unwrap();
    assert_eq!(sts.status(), 200);
    assert_eq!(date_of(&sts), ahead);
    let sts_error = client.post(emulator.sts_endpoint()).send().await.unwrap();
    assert_eq!(sts_error.status(), 400);
    assert_eq!(date_of(&sts_error), ahead);
    let imds = client
        .put(format!("{}/latest/api/token", emulator.imds_endpoint()))
        .header("x-aws-ec2-metadata-token-ttl-seconds", "60")
        .send()
        .await
        .unwrap();
    assert_eq!(imds.status(), 200);
    assert_eq!(date_of(&imds), ahead);
    let ecs = client
        .get(emulator.ecs_full_uri())
        .header("authorization", emulator.ecs_auth_token())
        .send()
        .await
        .unwrap();
    assert_eq!(ecs.status(), 200);
    assert_eq!(date_of(&ecs), ahead);
    let body: serde_json::Value = serde_json::from_slice(&ecs.bytes().await.unwrap()).unwrap();
    assert_eq!(
        rfc3339(body["Expiration"].as_str().unwrap()),
        ahead + Duration::from_secs(3600),
        "expirations come from the skewed clock"
    );

    // The skew can be stepped at run time, backwards too.
    emulator.set_clock_skew(-90);
    assert_eq!(emulator.clock_skew(), -90);
    let behind = client
        .get(format!("{}/nowhere", emulator.endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(date_of(&behind), local() - Duration::from_secs(90));
}

#[tokio::test]
async fn without_skew_the_date_is_the_emulator_clock() {
    let emulator = Emulator::start().unwrap();
    let before = SystemClock.now();
    let response = client()
        .get(format!("{}/nowhere", emulator.endpoint()))
        .send()
        .await
        .unwrap();
    let date = date_of(&response);
    let after = SystemClock.now();
    // Whole seconds: the Date may be up to a second before `before`.
    assert!(date + Duration::from_secs(1) >= before && date <= after, "{date:?}");
    assert_eq!(emulator.clock_skew(), 0);
}

#[tokio::test]
async fn sts_refuses_a_request_signed_too_far_from_its_clock() {
    let emulator = Emulator::builder()
        .clock(ManualClock::new(local()))
        .clock_skew(TWO_HOURS)
        .start()
        .unwrap();

    // The emulator runs 2 h ahead: the local time is too old.
    let response = assume_role(&emulator, local()).send().await.unwrap();
    assert_eq!(date_of(&response), local() + Duration::from_secs(2 * 3600));
    assert_refused(
        response,
        "Signature expired: 20261130T020000Z is now earlier than 20261130T034500Z (20261130T040000Z - 15 min.)",
    )
    .await;

    // 2 h behind: the local time is too new.
    emulator.set_clock_skew(-TWO_HOURS);
    let response = assume_role(&emulator, local()).send().await.unwrap();
    assert_refused(
        response,
        "Signature not yet current: 20261130T020000Z is still later than 20261130T001500Z \
         (20261130T000000Z + 15 min.)",
    )
    .await;

    // The same with a presigned request (query string).
    let presigned = format!(
        "{}/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential=AKIDSKEWTEST%2F20261130%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date={}\
         &X-Amz-SignedHeaders=host&X-Amz-Signature=00",
        emulator.sts_endpoint(),
        amz_date(local())
    );
    let response = client().get(presigned).send().await.unwrap();
    assert_refused(
        response,
        "Signature not yet current: 20261130T020000Z is still later than 20261130T001500Z \
         (20261130T000000Z + 15 min.)",
    )
    .await;

    // Within 15 minutes, either way, it is accepted; the credentials live an
    // hour from the emulator's (skewed) now.
    for skew in [120, -120, 15 * 60, -15 * 60] {
        emulator.set_clock_skew(skew);
        let response = assume_role(&emulator, local()).send().await.unwrap();
        assert_eq!(response.status(), 200, "skew {skew}");
        let skewed_now = SystemTime::UNIX_EPOCH + Duration::from_secs(LOCAL_UNIX.checked_add_signed(skew).unwrap());
        assert_eq!(date_of(&response), skewed_now);
        assert_eq!(
            expiration(&response.text().await.unwrap()),
            skewed_now + Duration::from_secs(3600)
        );
    }
    assert_eq!(emulator.count(Call::AssumeRole), 6);
}

#[tokio::test]
async fn sts_refuses_a_request_signed_with_the_local_system_clock_two_hours_off() {
    let emulator = Emulator::builder().clock_skew(TWO_HOURS).start().unwrap();
    let response = assume_role(&emulator, SystemClock.now()).send().await.unwrap();
    let date = date_of(&response);
    let ahead = SystemClock.now() + Duration::from_secs(2 * 3600);
    assert!(date <= ahead && date + Duration::from_secs(60) >= ahead, "{date:?}");
    assert_eq!(response.status(), 403);
    let body = response.text().await.unwrap();
    assert!(body.contains("<Code>SignatureDoesNotMatch</Code>"), "{body}");
    assert!(body.contains("<Message>Signature expired: "), "{body}");

    // A client that corrects its clock by the Date header is accepted.
    let response = assume_role(&emulator, date).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_date_sts_cannot_read_is_an_incomplete_signature_once_skew_is_set() {
    let emulator = Emulator::builder().clock_skew(0).start().unwrap();
    let response = assume_role_dated(&emulator, "yesterday").send().await.unwrap();
    assert_eq!(response.status(), 400);
    let body = response.text().await.unwrap();
    assert!(body.contains("<Code>IncompleteSignature</Code>"), "{body}");
}

// The crate's `AssumeRoleSource` against this skew (corrected after one
// refusal) is tested in tests/sources/skew.rs.
