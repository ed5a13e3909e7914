//! The broker goes away in the middle of a stream and comes back: the hub logs that it
//! is retrying, does not crash, and ingests every event exactly once.

use crate::common;

use std::time::Duration;

use common::feeds::{event, feed_counts};
use common::{produce_all, producer, wait_for, Broker, Hub};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restart_mid_stream_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut broker = Broker::start_persistent(dir.path()).await;
    broker.create_feed_topics(3);
    let mut hub = Hub::new(&broker.bootstrap(), &dir.path().join("data"), "restart");
    hub.start().await;

    let first: Vec<_> = (0..3_000).map(|i| event("restart", i)).collect();
    produce_all(&producer(&broker.bootstrap()), &first).await;
    let (k1, _, _) = feed_counts(3_000);
    hub.wait_count(
        "SELECT count(*) FROM kiosk_results",
        k1,
        Duration::from_secs(60),
    )
    .await;

    broker.kill();
    // The hub notices and says so, without exiting.
    let h = &hub;
    wait_for(
        "the hub to log that the broker is unreachable",
        Duration::from_secs(60),
        || async move {
            let log = h.log_text();
            (log.contains("unreachable") || log.contains("Connection refused")).then_some(())
        },
    )
    .await;
    assert!(
        hub.sql_raw("SELECT 1").await.0.is_success(),
        "the hub keeps serving while the broker is down"
    );

    broker.restart().await;
    let second: Vec<_> = (3_000..6_000).map(|i| event("restart", i)).collect();
    produce_all(&producer(&broker.bootstrap()), &second).await;

    let (k, s, x) = feed_counts(6_000);
    let t = Duration::from_secs(120);
    hub.wait_feed_counts((k, s, x), t).await;
    assert_eq!(
        hub.count("SELECT count(*) - count(DISTINCT event_id) FROM kiosk_results")
            .await,
        0
    );
}
