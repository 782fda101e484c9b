//! `pushway-mock fcm`: flags, the printed line, faults through the control endpoint, received.

use crate::binary::{control, get_json, start};

use super::*;

#[tokio::test]
async fn the_binary_serves_fcm_with_fault_flags_control_and_received() {
    let (mut child, lines) = start(&["fcm", "--fcm-fault", "times=1:quota_exceeded=30"], 1).await;
    let line = &lines[0];
    assert_eq!(line["simulator"], "fcm");
    assert_eq!(line["tls"], true);
    let base = line["base_url"].as_str().expect("base_url").to_owned();
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    assert_eq!(line["token_url"], format!("{base}/token"));
    let pem = line["ca_cert_pem"].as_str().expect("ca_cert_pem");
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(pem.as_bytes()).expect("PEM")])
        .retry(reqwest::retry::never())
        .build()
        .expect("client");

    // The committed test account is trusted when no key file is given.
    let assertion = TestServiceAccount::new().assertion(line["token_url"].as_str().expect("url"));
    let answer = client
        .post(line["token_url"].as_str().expect("url"))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", &assertion),
        ])
        .send()
        .await
        .expect("token");
    let token = read(answer).await.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let send = |body: Value| {
        let (client, token, url) = (
            &client,
            &token,
            format!("{base}/v1/projects/{PROJECT}/messages:send"),
        );
        async move {
            read(
                client
                    .post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .expect("send"),
            )
            .await
        }
    };
    let answer = send(message()).await;
    assert_eq!(
        (answer.status, answer.header("retry-after")),
        (429, Some("30"))
    );
    assert_eq!(send(message()).await.status, 200);

    let url = line["control_url"].as_str().expect("control_url");
    let (status, state) = control(
        &client,
        url,
        json!({"simulator": "fcm", "faults": ["unregistered"]}),
    )
    .await;
    assert_eq!(status, 200, "{state}");
    assert_eq!(
        state["fcm"],
        json!({"faults": ["unregistered"], "requests": 2})
    );
    assert_eq!(state["fcm_oauth"], json!({"faults": [], "requests": 1}));
    assert_eq!(
        send(message()).await.json()["error"]["details"][0]["errorCode"],
        "UNREGISTERED"
    );
    let (status, _) = control(
        &client,
        url,
        json!({"simulator": "fcm", "faults": ["nonsense"]}),
    )
    .await;
    assert_eq!(status, 400);

    let (status, received) = get_json(
        &client,
        line["received_url"].as_str().expect("received_url"),
    )
    .await;
    assert_eq!(status, 200);
    let data = json!({"conv_id": "c2c_alice", "sender": "alice"});
    assert_eq!(
        received["received"],
        json!([
            {"token": DEVICE, "data": data, "status": 429},
            {"token": DEVICE, "data": data, "status": 200},
            {"token": DEVICE, "data": data, "status": 404},
        ])
    );
    child.kill().await.expect("kill");
}
