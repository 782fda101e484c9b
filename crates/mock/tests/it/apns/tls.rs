//! TLS mode: the exported certificate, ALPN `h2`, and clients that send no ALPN (aioapns).

use std::sync::Arc;

use pushway_mock::apns::{ApnsSimulator, TestKey};

use super::*;

async fn tls_sim() -> (ApnsSimulator, String) {
    let key = TestKey::generate();
    let sim = ApnsSimulator::builder()
        .key(TEAM, KID, key.public_key_pem())
        .topic(TOPIC)
        .start()
        .await
        .expect("start");
    let jwt = key.provider_token(KID, TEAM, now_s(&sim));
    (sim, jwt)
}

#[tokio::test]
async fn reqwest_trusting_the_exported_certificate_gets_200_over_h2() {
    let (sim, jwt) = tls_sim().await;
    assert!(sim.base_url().starts_with("https://127.0.0.1:"));
    let cert =
        reqwest::Certificate::from_pem(sim.ca_cert_pem().expect("TLS").as_bytes()).expect("PEM");
    let client = reqwest::Client::builder()
        .tls_certs_only([cert])
        .retry(reqwest::retry::never())
        .build()
        .expect("client");
    let res = client
        .post(format!("{}/3/device/{TOKEN}", sim.base_url()))
        .header("authorization", format!("bearer {jwt}"))
        .header("apns-topic", TOPIC)
        .body(PAYLOAD)
        .send()
        .await
        .expect("answer");
    assert_eq!(
        (res.status().as_u16(), res.version()),
        (200, http::Version::HTTP_2)
    );
}

async fn h2_over_tls(sim: &ApnsSimulator, jwt: &str, alpn: Vec<Vec<u8>>) -> (u16, Option<Vec<u8>>) {
    let mut roots = rustls::RootCertStore::empty();
    let (_, der) = pem_der(&sim.ca_cert_pem().expect("TLS"));
    roots
        .add(rustls::pki_types::CertificateDer::from(der))
        .expect("root");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(sim.addr())
        .await
        .expect("connect");
    let name = rustls::pki_types::ServerName::try_from("api.sandbox.push.apple.com").expect("name");
    let tls = connector.connect(name, tcp).await.expect("TLS handshake");
    let negotiated = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    let (mut send, conn) = h2::client::handshake(tls).await.expect("h2 handshake");
    tokio::spawn(conn);
    let req = http::Request::post(format!(
        "https://api.sandbox.push.apple.com/3/device/{TOKEN}"
    ))
    .header("authorization", format!("bearer {jwt}"))
    .header("apns-topic", TOPIC)
    .body(())
    .expect("request");
    let (resp, mut body) = send.send_request(req, false).expect("send");
    body.send_data(bytes::Bytes::from_static(PAYLOAD.as_bytes()), true)
        .expect("data");
    (resp.await.expect("response").status().as_u16(), negotiated)
}

fn pem_der(pem: &str) -> (String, Vec<u8>) {
    use base64::Engine as _;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    (
        "CERTIFICATE".into(),
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .expect("b64"),
    )
}

#[tokio::test]
async fn a_client_that_sends_no_alpn_is_served_h2_and_apns_host_names_verify() {
    let (sim, jwt) = tls_sim().await;
    assert_eq!(h2_over_tls(&sim, &jwt, Vec::new()).await, (200, None));
}

#[tokio::test]
async fn alpn_h2_is_negotiated_when_offered() {
    let (sim, jwt) = tls_sim().await;
    let offered = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    assert_eq!(
        h2_over_tls(&sim, &jwt, offered).await,
        (200, Some(b"h2".to_vec()))
    );
}

#[tokio::test]
async fn dropping_the_simulator_stops_it() {
    let (sim, _) = tls_sim().await;
    let addr = sim.addr();
    drop(sim);
    // The listener is closed once the aborted accept task is dropped.
    let mut refused = false;
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(refused, "still accepting after drop");
}
