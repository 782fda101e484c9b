//! The send happy path over TLS and h2c, recording, and HTTP/2 behaviour (§7).

use super::*;

#[tokio::test]
async fn reqwest_over_tls_h2_gets_a_token_and_sends() {
    let (sim, client) = start(builder()).await;
    assert!(sim.base_url().starts_with("https://127.0.0.1:"));
    let token = access_token(&client, &sim).await;
    let answer = send(&client, &sim, &token, &message()).await;
    assert_eq!(
        (answer.status, answer.version),
        (200, http::Version::HTTP_2)
    );
    assert_eq!(
        answer.header("content-type"),
        Some("application/json; charset=UTF-8")
    );
    let name = answer.json()["name"].as_str().expect("name").to_owned();
    let id = name
        .strip_prefix("projects/pushway-test/messages/0:")
        .expect("name shape");
    let (digits, hex) = id.split_once('%').expect("0:<digits>%<hex>");
    assert_eq!(digits.len(), 16);
    assert!(digits.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(hex.len(), 16);
    assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
    // Pretty-printed, as Google answers.
    assert_eq!(answer.body, format!("{{\n  \"name\": \"{name}\"\n}}"));

    let kept = sim.requests();
    assert_eq!(kept.len(), 1);
    assert!(kept[0].accepted());
    assert_eq!(kept[0].json(), message());
    assert_eq!(
        kept[0].header("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
    assert_eq!(kept[0].request.version, http::Version::HTTP_2);
    assert_eq!(
        (
            sim.accepted_count(),
            sim.request_count(),
            sim.token_request_count(),
            sim.issued_tokens()
        ),
        (1, 1, 1, 1)
    );
}
