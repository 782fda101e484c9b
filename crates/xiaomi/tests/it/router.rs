//! The provider under the core router.

use std::sync::Arc;

use pushway_core::{ChannelKey, Router, TokenKind};

use crate::common::*;

#[tokio::test]
async fn a_batch_of_2500_regids_makes_three_requests() {
    let sim = sim().await;
    let mut router = Router::new();
    router.register(
        ChannelKey::new(TokenKind::Xiaomi, "chat"),
        Arc::new(provider(&sim)),
    );
    let regids = regids(2500);
    sim.unregister([regids[1234].clone()]);
    let report = router.dispatch(&c2c(), &tokens(&regids)).await;
    assert_eq!(report.results().len(), 2500);
    assert_eq!(report.counts(), [("delivered", 2499), ("invalid_token", 1)]);
    let dropped: Vec<_> = report.tokens_to_drop().map(|d| d.token.clone()).collect();
    assert_eq!(dropped, [regids[1234].clone()]);

    let mut sizes: Vec<usize> = sim
        .requests()
        .iter()
        .map(|r| r.form_value("registration_id").unwrap().split(',').count())
        .collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [500, 1000, 1000]);
    // Every regid was sent exactly once.
    let mut sent: Vec<String> = sim
        .requests()
        .iter()
        .flat_map(|r| {
            r.form_value("registration_id")
                .unwrap()
                .split(',')
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    sent.sort_unstable();
    let mut expected = regids.clone();
    expected.sort_unstable();
    assert_eq!(sent, expected);
}
