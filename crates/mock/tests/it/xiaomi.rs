//! Tests of the xiaomi simulator.

use std::time::Duration;

use pushway_mock::Recording;
use pushway_mock::fault::Trigger;
use pushway_mock::xiaomi::{XiaomiFault, XiaomiSimulator, XiaomiSimulatorBuilder};

const SECRET: &str = "TESTSECRET0123456789==";
const PACKAGE: &str = "com.example.chat";
const FORM: &str = "application/x-www-form-urlencoded;charset=UTF-8";

fn fixture(name: &str) -> String {
    let path = format!("{}/fixtures/xiaomi/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .expect("fixture")
        .trim_end()
        .to_owned()
}

fn builder() -> XiaomiSimulatorBuilder {
    XiaomiSimulator::builder()
        .app_secret(SECRET)
        .package(PACKAGE)
}

async fn start() -> XiaomiSimulator {
    builder().start().await.expect("start")
}

/// A form body, every value percent-encoded by a real encoder.
fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// A minimal valid notification to `regids`.
fn notification(regids: &str) -> String {
    form(&[
        ("restricted_package_name", PACKAGE),
        ("registration_id", regids),
        ("pass_through", "0"),
        ("title", "New message"),
        ("description", "You have 1 new message"),
        ("extra.channel_id", "108790"),
        ("extra.notify_effect", "1"),
    ])
}

struct Answer {
    status: u16,
    content_type: Option<String>,
    body: String,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("json body")
    }
}

async fn post_with(sim: &XiaomiSimulator, path: &str, auth: Option<&str>, body: String) -> Answer {
    let mut request = reqwest::Client::new()
        .post(format!("{}{path}", sim.base_url()))
        .header("content-type", FORM)
        .body(body);
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    let response = request.send().await.expect("response");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().expect("ascii").to_owned());
    Answer {
        status,
        content_type,
        body: response.text().await.expect("body"),
    }
}

async fn post(sim: &XiaomiSimulator, body: String) -> Answer {
    post_with(
        sim,
        "/v3/message/regid",
        Some(&format!("key={SECRET}")),
        body,
    )
    .await
}

#[tokio::test]
async fn success_matches_fixture_and_records_the_decoded_form() {
    let sim = start().await;
    // protocols/xiaomi.md §10.1, as the official SDK would encode it.
    let body = form(&[
        ("restricted_package_name", PACKAGE),
        ("registration_id", "REGID_A,REGID_B"),
        ("pass_through", "0"),
        ("notify_type", "-1"),
        ("notify_id", "7001"),
        ("title", "Alice"),
        ("description", "Are we still meeting at 8?"),
        ("payload", r#"{"t":"msg","cid":"c_42","mid":"m_9001"}"#),
        ("time_to_live", "86400000"),
        ("extra.channel_id", "108790"),
        ("extra.notify_effect", "2"),
        ("extra.callback.type", "19"),
    ]);
    assert!(body.contains("registration_id=REGID_A%2CREGID_B"));
    assert!(body.contains("description=Are+we+still+meeting+at+8%3F"));
    let answer = post(&sim, body).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type.as_deref(), Some("application/json"));
    assert_eq!(answer.body, fixture("success.json"));

    let requests = sim.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, http::Method::POST);
    assert_eq!(request.path, "/v3/message/regid");
    assert_eq!(
        request.header("authorization"),
        Some("key=TESTSECRET0123456789==")
    );
    assert_eq!(
        request.form_value("registration_id").as_deref(),
        Some("REGID_A,REGID_B")
    );
    assert_eq!(
        request.form_value("description").as_deref(),
        Some("Are we still meeting at 8?")
    );
    assert_eq!(
        request.form_value("payload").as_deref(),
        Some(r#"{"t":"msg","cid":"c_42","mid":"m_9001"}"#)
    );
    let form = request.form();
    assert_eq!(form.len(), 12);
    assert_eq!(
        form[0],
        ("restricted_package_name".to_owned(), PACKAGE.to_owned())
    );
    assert_eq!(
        form[11],
        ("extra.callback.type".to_owned(), "19".to_owned())
    );
    assert_eq!(sim.acked(), 2);
}

#[tokio::test]
async fn v2_path_answers_like_v3() {
    let sim = start().await;
    let answer = post_with(
        &sim,
        "/v2/message/regid",
        Some(&format!("key={SECRET}")),
        notification("REGID_A,REGID_B"),
    )
    .await;
    assert_eq!((answer.status, answer.body), (200, fixture("success.json")));
}

#[tokio::test]
async fn regid_with_reserved_characters_round_trips_when_percent_encoded() {
    let sim = builder()
        .accept_any_regid(false)
        .regids(["ab+cd/ef=="])
        .start()
        .await
        .expect("start");
    let body = notification("ab+cd/ef==");
    assert!(body.contains("registration_id=ab%2Bcd%2Fef%3D%3D"));
    let answer = post(&sim, body).await;
    assert_eq!(answer.json()["code"], 0);
    assert_eq!(answer.json()["info"], "Received push messages for 1 REGID");
    assert_eq!(
        sim.requests()[0].form_value("registration_id").as_deref(),
        Some("ab+cd/ef==")
    );
}

#[tokio::test]
async fn unencoded_plus_arrives_as_a_space_and_is_not_a_valid_regid() {
    // Default mode (any well-formed regid is valid): the space still makes it invalid.
    let sim = start().await;
    let raw = format!(
        "restricted_package_name={PACKAGE}&registration_id=ab+cd/ef==&title=Hi&description=There"
    );
    let answer = post(&sim, raw).await;
    assert_eq!(answer.body, fixture("no_valid_targets.json"));
    assert_eq!(
        sim.requests()[0].form_value("registration_id").as_deref(),
        Some("ab cd/ef==")
    );

    let raw = format!(
        "restricted_package_name={PACKAGE}&registration_id=ab+cd/ef==,REGID_OK&title=Hi&description=There"
    );
    let answer = post(&sim, raw).await.json();
    assert_eq!(answer["code"], 0);
    assert_eq!(answer["data"]["bad_regids"], "ab cd/ef==");
    assert_eq!(answer["info"], "Received push messages for 1 REGID");
}

#[tokio::test]
async fn unknown_regids_are_listed_in_bad_regids() {
    let sim = builder()
        .accept_any_regid(false)
        .regids(["REGID_A"])
        .start()
        .await
        .expect("start");
    let answer = post(&sim, notification("REGID_A,REGID_B")).await;
    assert_eq!(
        (answer.status, answer.body),
        (200, fixture("success_bad_regids.json"))
    );
    assert_eq!(sim.acked(), 1);
}

#[tokio::test]
async fn unregistered_regids_are_bad_until_registered_again() {
    let sim = start().await;
    sim.unregister(["REGID_B", "REGID_C"]);
    let answer = post(&sim, notification("REGID_A,REGID_B,REGID_C"))
        .await
        .json();
    assert_eq!(answer["data"]["bad_regids"], "REGID_B,REGID_C");
    sim.register(["REGID_B"]);
    let answer = post(&sim, notification("REGID_A,REGID_B,REGID_C"))
        .await
        .json();
    assert_eq!(answer["data"]["bad_regids"], "REGID_C");
    assert_eq!(answer["info"], "Received push messages for 2 REGID");
    sim.set_accept_any_regid(false);
    let answer = post(&sim, notification("REGID_A,REGID_B")).await.json();
    assert_eq!(answer["data"]["bad_regids"], "REGID_A");
}

#[tokio::test]
async fn no_valid_regid_is_20301() {
    let sim = builder()
        .accept_any_regid(false)
        .start()
        .await
        .expect("start");
    let answer = post(&sim, notification("REGID_A,REGID_B")).await;
    assert_eq!(
        (answer.status, answer.body),
        (200, fixture("no_valid_targets.json"))
    );
    assert_eq!(sim.acked(), 0);
}

#[tokio::test]
async fn wrong_package_is_20301_for_every_target() {
    let sim = start().await;
    let body = notification("REGID_A").replace(PACKAGE, "com.example.other");
    assert_eq!(post(&sim, body).await.json()["code"], 20301);
    // v3 accepts a comma list of packages; one accepted name is enough.
    let body = form(&[
        (
            "restricted_package_name",
            "com.example.other,com.example.chat",
        ),
        ("registration_id", "REGID_A"),
        ("title", "t"),
        ("description", "d"),
    ]);
    assert_eq!(post(&sim, body.clone()).await.json()["code"], 0);
    // v2 takes one package name: the list is not a name it knows.
    let answer = post_with(
        &sim,
        "/v2/message/regid",
        Some(&format!("key={SECRET}")),
        body,
    )
    .await;
    assert_eq!(answer.json()["code"], 20301);
}

#[tokio::test]
async fn wrong_secret_is_21301() {
    let sim = start().await;
    let answer = post_with(
        &sim,
        "/v3/message/regid",
        Some("key=wrong"),
        notification("REGID_A"),
    )
    .await;
    assert_eq!(
        (answer.status, answer.body),
        (200, fixture("invalid_secret.json"))
    );
    for auth in [None, Some(format!("Key={SECRET}")), Some(SECRET.to_owned())] {
        let answer = post_with(
            &sim,
            "/v3/message/regid",
            auth.as_deref(),
            notification("REGID_A"),
        )
        .await;
        assert_eq!(answer.json()["code"], 21301, "{auth:?}");
    }
}

#[tokio::test]
async fn missing_package_is_10016() {
    let sim = start().await;
    let body = form(&[
        ("registration_id", "REGID_A"),
        ("title", "t"),
        ("description", "d"),
    ]);
    assert_eq!(
        post(&sim, body).await.body,
        fixture("missing_restricted_package_name.json")
    );
}

#[tokio::test]
async fn missing_regids_is_10016() {
    let sim = start().await;
    let body = form(&[
        ("restricted_package_name", PACKAGE),
        ("title", "t"),
        ("description", "d"),
    ]);
    assert_eq!(
        post(&sim, body).await.body,
        fixture("missing_registration_id.json")
    );
}

#[tokio::test]
async fn a_json_body_is_not_read_as_parameters() {
    // Like a servlet, the server reads body parameters only from a form body.
    let sim = start().await;
    let response = reqwest::Client::new()
        .post(format!("{}/v3/message/regid", sim.base_url()))
        .header("authorization", format!("key={SECRET}"))
        .header("content-type", "application/json")
        .body(r#"{"restricted_package_name":"com.example.chat","registration_id":"REGID_A"}"#)
        .send()
        .await
        .expect("response");
    let body = response.text().await.expect("body");
    assert_eq!(body, fixture("missing_restricted_package_name.json"));
}

#[tokio::test]
async fn query_string_parameters_count() {
    let sim = start().await;
    let url = format!(
        "{}/v3/message/regid?restricted_package_name={PACKAGE}&registration_id=REGID_A",
        sim.base_url()
    );
    let response = reqwest::Client::new()
        .post(url)
        .header("authorization", format!("key={SECRET}"))
        .header("content-type", FORM)
        .body("title=t&description=d")
        .send()
        .await
        .expect("response");
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["code"], 0);
}

#[tokio::test]
async fn notification_without_title_is_65011_but_pass_through_needs_none() {
    let sim = start().await;
    let body = form(&[
        ("restricted_package_name", PACKAGE),
        ("registration_id", "REGID_A"),
        ("title", " "),
    ]);
    assert_eq!(post(&sim, body).await.body, fixture("empty_title.json"));
    let body = form(&[
        ("restricted_package_name", PACKAGE),
        ("registration_id", "REGID_A"),
        ("pass_through", "1"),
        ("payload", "x"),
    ]);
    assert_eq!(post(&sim, body).await.json()["code"], 0);
}

#[tokio::test]
async fn more_than_1000_regids_is_an_error_and_1000_is_fine() {
    let regids = |n: usize| {
        (0..n)
            .map(|i| format!("R{i}+/="))
            .collect::<Vec<_>>()
            .join(",")
    };
    let sim = start().await;
    assert_eq!(
        post(&sim, notification(&regids(1001))).await.body,
        fixture("too_many_regids.json")
    );
    let answer = post(&sim, notification(&regids(1000))).await.json();
    assert_eq!(answer["code"], 0);
    assert_eq!(answer["info"], "Received push messages for 1000 REGID");
    assert_eq!(sim.acked(), 1000);
}

#[tokio::test]
async fn missing_channel_id_is_27001_when_required() {
    let sim = builder()
        .require_channel_id(true)
        .start()
        .await
        .expect("start");
    let without = form(&[
        ("restricted_package_name", PACKAGE),
        ("registration_id", "A"),
        ("title", "t"),
        ("description", "d"),
    ]);
    assert_eq!(
        post(&sim, without.clone()).await.body,
        fixture("invalid_channel.json")
    );
    assert_eq!(post(&sim, notification("A")).await.json()["code"], 0);
    sim.set_require_channel_id(false);
    assert_eq!(post(&sim, without).await.json()["code"], 0);
}

#[tokio::test]
async fn daily_quota_is_reported_then_enforced() {
    let sim = builder().daily_quota(2).start().await.expect("start");
    assert_eq!(
        post(&sim, notification("A,B")).await.body,
        fixture("success_quota.json")
    );
    assert_eq!(
        post(&sim, notification("C")).await.body,
        fixture("quota_exceeded.json")
    );
}

#[tokio::test]
async fn unknown_path_is_404_and_get_is_405() {
    let sim = start().await;
    let answer = post_with(
        &sim,
        "/v1/feedback/fetch_invalid_regids",
        Some("key=x"),
        String::new(),
    )
    .await;
    assert_eq!((answer.status, answer.body.as_str()), (404, ""));
    let response = reqwest::get(format!("{}/v3/message/regid", sim.base_url()))
        .await
        .expect("get");
    assert_eq!(response.status().as_u16(), 405);
}

#[tokio::test]
async fn rate_limited_fault_is_10027() {
    let sim = start().await;
    sim.inject(Trigger::Always, XiaomiFault::RateLimited);
    assert_eq!(
        post(&sim, notification("A")).await.body,
        fixture("rate_limited.json")
    );
    assert_eq!(sim.acked(), 0);
}

#[tokio::test]
async fn quota_fault_is_200001() {
    let sim = start().await;
    post(&sim, notification("A")).await;
    sim.inject(Trigger::Always, XiaomiFault::QuotaExceeded);
    let answer = post(&sim, notification("A")).await.json();
    assert_eq!(answer["code"], 200001);
    assert_eq!(answer["reason"], "exceed quota, quota: 1, have acked: 1");
}

#[tokio::test]
async fn status_and_raw_faults_answer_exactly_that() {
    let sim = start().await;
    sim.inject(Trigger::Times(1), XiaomiFault::Status(503));
    sim.inject(
        Trigger::Times(1),
        XiaomiFault::Raw {
            status: 502,
            content_type: "text/html".into(),
            body: "<html>Bad Gateway</html>".into(),
        },
    );
    sim.inject(
        Trigger::Times(1),
        XiaomiFault::Raw {
            status: 200,
            content_type: String::new(),
            body: "not json".into(),
        },
    );
    let a = post(&sim, notification("A")).await;
    assert_eq!((a.status, a.content_type, a.body.as_str()), (503, None, ""));
    let a = post(&sim, notification("A")).await;
    assert_eq!(a.status, 502);
    assert_eq!(a.content_type.as_deref(), Some("text/html"));
    assert_eq!(a.body, "<html>Bad Gateway</html>");
    let a = post(&sim, notification("A")).await;
    assert_eq!(
        (a.status, a.content_type, a.body.as_str()),
        (200, None, "not json")
    );
    assert_eq!(post(&sim, notification("A")).await.json()["code"], 0);
}

#[tokio::test]
async fn ratio_fault_hits_a_deterministic_subset() {
    let sim = start().await;
    sim.inject(Trigger::ratio(1, 3), XiaomiFault::Status(500));
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(post(&sim, notification("A")).await.status);
    }
    assert_eq!(statuses, [200, 200, 500, 200, 200, 500, 200]);
    sim.clear_faults();
    assert_eq!(post(&sim, notification("A")).await.status, 200);
}

#[tokio::test]
async fn token_fault_hits_only_requests_naming_the_regid() {
    let sim = start().await;
    sim.inject(Trigger::token("a+b/c=="), XiaomiFault::RateLimited);
    assert_eq!(post(&sim, notification("x,y")).await.json()["code"], 0);
    assert_eq!(
        post(&sim, notification("x,a+b/c==")).await.json()["code"],
        10027
    );
}

#[tokio::test]
async fn dropped_connection_gives_no_response() {
    let sim = start().await;
    sim.inject(Trigger::Times(1), XiaomiFault::DropConnection);
    let result = reqwest::Client::new()
        .post(format!("{}/v3/message/regid", sim.base_url()))
        .header("authorization", format!("key={SECRET}"))
        .header("content-type", FORM)
        .body(notification("A"))
        .send()
        .await;
    let error = result.expect_err("connection must be dropped");
    assert!(!error.is_timeout() && error.status().is_none(), "{error:?}");
    assert_eq!(post(&sim, notification("A")).await.json()["code"], 0);
}

#[tokio::test]
async fn latency_fault_delays_the_answer() {
    let sim = start().await;
    sim.inject(
        Trigger::Times(1),
        XiaomiFault::Latency(Duration::from_secs(30)),
    );
    let result = reqwest::Client::new()
        .post(format!("{}/v3/message/regid", sim.base_url()))
        .header("authorization", format!("key={SECRET}"))
        .header("content-type", FORM)
        .timeout(Duration::from_millis(300))
        .body(notification("A"))
        .send()
        .await;
    assert!(result.expect_err("must time out").is_timeout());
    // The rule fired once; the next request is answered at once.
    assert_eq!(post(&sim, notification("A")).await.json()["code"], 0);
}

#[tokio::test]
async fn recording_is_bounded_or_off() {
    let sim = builder()
        .recording(Recording::Last(2))
        .start()
        .await
        .expect("start");
    for regid in ["A", "B", "C"] {
        post(&sim, notification(regid)).await;
    }
    let kept: Vec<_> = sim
        .requests()
        .iter()
        .map(|r| r.form_value("registration_id").expect("regid"))
        .collect();
    assert_eq!(kept, ["B", "C"]);
    assert_eq!(sim.request_count(), 3);

    let sim = builder()
        .recording(Recording::Off)
        .start()
        .await
        .expect("start");
    post(&sim, notification("A")).await;
    assert!(sim.requests().is_empty());
    assert_eq!(sim.request_count(), 1);
}

#[tokio::test]
async fn dropping_the_simulator_closes_the_port() {
    let sim = start().await;
    let addr = sim.addr();
    drop(sim);
    tokio::task::yield_now().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn connection_count_counts_accepted_connections() {
    let sim = start().await;
    assert_eq!(sim.connection_count(), 0);
    // One keep-alive client, requests one after another: one connection.
    let client = reqwest::Client::new();
    for _ in 0..3 {
        let response = client
            .post(format!("{}/v3/message/regid", sim.base_url()))
            .header("authorization", format!("key={SECRET}"))
            .header("content-type", FORM)
            .body(notification("A"))
            .send()
            .await
            .expect("response");
        assert_eq!(response.status().as_u16(), 200);
        response.bytes().await.expect("body");
    }
    assert_eq!(sim.connection_count(), 1);
    // `post` uses a client of its own: a second connection.
    assert_eq!(post(&sim, notification("A")).await.status, 200);
    assert_eq!((sim.connection_count(), sim.request_count()), (2, 4));
}
