//! Reading the pod: retries, timeouts, "not found", the UID check.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::Env;
use multus_k8s::Error;
use multus_k8s::pod::{PodLookup, PodRetry, lookup_pod};
use multus_types::ToCniError;

const GET_POD: &str = "/api/v1/namespaces/default/pods/p$";

async fn setup() -> (Env, kube::Client, String) {
    let env = Env::new().await;
    let pod = env.insert_pod("default", "p", &[]);
    let uid = pod["metadata"]["uid"].as_str().unwrap().to_owned();
    let client = env.client().await;
    (env, client, uid)
}

fn get_statuses(env: &Env) -> Vec<Option<u16>> {
    env.server
        .requests_matching("GET", GET_POD)
        .iter()
        .map(|r| r.status)
        .collect()
}

#[tokio::test]
async fn found_with_matching_uid() {
    let (env, client, uid) = setup().await;
    let found = lookup_pod(&client, "default", "p", &uid, PodRetry::THIN)
        .await
        .unwrap();
    let pod = found.for_add().unwrap().unwrap();
    assert_eq!(pod.metadata.uid.as_deref(), Some(uid.as_str()));
    assert_eq!(get_statuses(&env), [Some(200)]);
}

#[tokio::test]
async fn uid_mismatch_fails_add_and_is_ignored_on_del() {
    let (_env, client, _uid) = setup().await;
    let lookup = lookup_pod(&client, "default", "p", "other-uid", PodRetry::THIN)
        .await
        .unwrap();
    assert!(matches!(lookup, PodLookup::UidMismatch { .. }));
    assert_eq!(lookup.clone().for_del(), None);
    let e = lookup.for_add().unwrap_err();
    assert!(
        e.to_string()
            .starts_with(r#"expected pod UID "other-uid" but got ""#),
        "{e}"
    );
    assert!(
        e.to_string()
            .ends_with(r#"" from Kube API (pod default/p)"#),
        "{e}"
    );
}

#[tokio::test]
async fn static_pods_are_exempt_from_the_uid_check() {
    let (env, client, _uid) = setup().await;
    env.insert_pod(
        "default",
        "mirror",
        &[("kubernetes.io/config.source", "file")],
    );
    let lookup = lookup_pod(&client, "default", "mirror", "kubelet-uid", PodRetry::THIN)
        .await
        .unwrap();
    assert!(matches!(lookup, PodLookup::Found(_)));
}

#[tokio::test]
async fn not_found_is_an_outcome_without_retry() {
    let (env, client, _uid) = setup().await;
    let lookup = lookup_pod(&client, "default", "gone", "u", PodRetry::THIN)
        .await
        .unwrap();
    assert_eq!(lookup, PodLookup::NotFound);
    assert_eq!(lookup.for_add().unwrap(), None);
    assert_eq!(
        env.server
            .requests_matching("GET", "/api/v1/namespaces/default/pods/gone")
            .len(),
        1
    );
}

#[tokio::test]
async fn unavailable_and_internal_errors_are_retried() {
    let (env, client, uid) = setup().await;
    env.server.inject_errors(2, 503);
    env.server.inject_errors(1, 500);
    let start = Instant::now();
    let lookup = lookup_pod(&client, "default", "p", &uid, PodRetry::THIN)
        .await
        .unwrap();
    assert!(matches!(lookup, PodLookup::Found(_)));
    assert_eq!(
        get_statuses(&env),
        [Some(503), Some(503), Some(500), Some(200)]
    );
    // Three pauses of 250 ms.
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(740) && elapsed < Duration::from_millis(1500),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn other_errors_go_straight_to_the_last_get() {
    let (env, client, uid) = setup().await;
    // 429 is not retried by upstream's rule (and kube's own retry is off).
    env.server.inject_errors(1, 429);
    let lookup = lookup_pod(&client, "default", "p", &uid, PodRetry::THIN)
        .await
        .unwrap();
    assert!(matches!(lookup, PodLookup::Found(_)));
    assert_eq!(get_statuses(&env), [Some(429), Some(200)]);

    env.server.clear_requests();
    env.server.inject_errors(2, 403);
    let e = lookup_pod(&client, "default", "p", &uid, PodRetry::THIN)
        .await
        .unwrap_err();
    assert_eq!(get_statuses(&env), [Some(403), Some(403)]);
    assert!(e.to_string().starts_with("error waiting for pod: "), "{e}");
}

#[tokio::test]
async fn persistent_unavailability_is_bounded() {
    let (env, client, uid) = setup().await;
    env.server.inject_errors(100, 503);
    let start = Instant::now();
    let e = lookup_pod(&client, "default", "p", &uid, PodRetry::THIN)
        .await
        .unwrap_err();
    let elapsed = start.elapsed();
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert!(elapsed >= Duration::from_millis(2250), "{elapsed:?}");
    // 2.5 s of polling every 250 ms, then the last GET.
    let n = get_statuses(&env).len();
    assert!((10..=12).contains(&n), "{n} GETs");
    assert!(e.to_string().starts_with("error waiting for pod: "), "{e}");
    assert_eq!(e.cni_code().code(), 11);
}

#[tokio::test]
async fn api_down_fails_in_bounded_time() {
    let (env, client, uid) = setup().await;
    env.server.set_down(true).unwrap();
    let start = Instant::now();
    let e = lookup_pod(&client, "default", "p", &uid, PodRetry::THIN)
        .await
        .unwrap_err();
    let elapsed = start.elapsed();
    assert!(elapsed < Duration::from_millis(3200), "{elapsed:?}");
    let text = e.to_string();
    eprintln!("{elapsed:?}: {text}");
    assert!(text.starts_with("error waiting for pod: "), "{text}");
    assert!(text.to_lowercase().contains("connection refused"), "{text}");
    assert!(matches!(e.root(), Error::GetPod { .. }));
    assert!(text.ends_with("(pod default/p)"), "{text}");

    // Back up: the same client works again.
    env.server.set_down(false).unwrap();
    let lookup = lookup_pod(&client, "default", "p", &uid, PodRetry::THIN)
        .await
        .unwrap();
    assert!(matches!(lookup, PodLookup::Found(_)));
}

/// Upstream cuts every GET at 250 ms and never retries a timeout, so an API server 260 ms away
/// fails every pod. Here a timed-out GET is retried with twice the time, within the budget.
#[tokio::test]
async fn slow_api_is_waited_for_within_the_budget() {
    let (env, client, uid) = setup().await;
    for delay_ms in [260, 700] {
        env.server.set_delay(Duration::from_millis(delay_ms));
        let start = Instant::now();
        let lookup = lookup_pod(&client, "default", "p", &uid, PodRetry::THIN)
            .await
            .unwrap_or_else(|e| panic!("{delay_ms} ms away: {e}"));
        assert!(matches!(lookup, PodLookup::Found(_)), "{delay_ms} ms");
        assert!(
            start.elapsed() < PodRetry::THIN.total,
            "{delay_ms} ms: {:?}",
            start.elapsed()
        );
    }
}

#[tokio::test]
async fn slower_than_the_budget_fails_at_the_budget() {
    let (env, client, uid) = setup().await;
    env.server.set_delay(Duration::from_secs(4));
    let start = Instant::now();
    let e = lookup_pod(&client, "default", "p", &uid, PodRetry::THIN)
        .await
        .unwrap_err();
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(2700) && elapsed < Duration::from_millis(3500),
        "{elapsed:?}"
    );
    assert_eq!(
        e.to_string(),
        "error waiting for pod: timed out after 2750 ms (pod default/p)"
    );

    // A larger budget (the config's podLookupTimeout) waits for it.
    env.server.set_delay(Duration::from_millis(2000));
    let lookup = lookup_pod(
        &client,
        "default",
        "p",
        &uid,
        PodRetry::THIN.with_total(Duration::from_secs(8)),
    )
    .await
    .unwrap();
    assert!(matches!(lookup, PodLookup::Found(_)));
}

#[tokio::test]
async fn names_are_checked_before_any_request() {
    let (env, client, _uid) = setup().await;
    let e = lookup_pod(&client, "default", "../x", "", PodRetry::THIN)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid name \"../x\": it may not contain '/' (pod default/../x)"
    );
    assert!(env.server.requests().is_empty());
}

#[tokio::test]
async fn client_start_up_is_cheap() {
    let env = Env::new().await;
    // Warm up (first use of the crypto provider, page cache).
    let _ = env.client().await;
    let start = Instant::now();
    for _ in 0..10 {
        let _ = env.client().await;
    }
    let each = start.elapsed() / 10;
    eprintln!("client from kubeconfig: {each:?}");
    // Generous bound for a shared machine; without a CA and with the system
    // trust store loaded this is several milliseconds more.
    assert!(each < Duration::from_millis(50), "{each:?}");
}
