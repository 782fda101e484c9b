//! `wss://`: the same protocol over rustls.

use std::sync::Arc;

use pushway_core::{Outcome, PushProvider};
use pushway_daemon::Hub;
use pushway_daemon::client::{DeviceClient, Event};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::support::*;

#[tokio::test]
async fn a_device_receives_pushes_over_tls() {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = CertificateDer::from(generated.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        generated.signing_key.serialize_der(),
    ));
    let server_config = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let client_config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();

    let hub = Hub::builder(auth()).build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = hub.serve_tls(listener, Arc::new(server_config)).unwrap();
    let url = format!("wss://localhost:{}/", server.local_addr().port());
    let token = hub
        .auth()
        .issue(USER, "phone-1", 0, std::time::Duration::from_secs(60))
        .unwrap();
    let mut client = DeviceClient::builder(url, token)
        .tls(Arc::new(client_config))
        .spawn();
    match within(client.next_event()).await {
        Some(Event::Connected { device_id }) => assert_eq!(device_id, "phone-1"),
        other => panic!("expected Connected, got {other:?}"),
    }
    let outcomes = within(
        hub.provider()
            .send(&notification("m1"), &[device("phone-1")]),
    )
    .await;
    assert_eq!(outcomes, [Outcome::DELIVERED]);
    assert_eq!(within(client.next_push()).await.unwrap().id, "m1");
}
