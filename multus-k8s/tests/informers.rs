//! The thick daemon's informers against the stand-in API server: caches
//! that follow changes, the node filter, and the thick pod lookup.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Env, NETWORKS, k8s_args};
use multus_k8s::informers::{CachedPodRetry, Informers, nad_informer};
use multus_k8s::nad_source::NadSource;
use multus_k8s::pod::PodLookup;
use multus_k8s::resolve::{ResolveRequest, resolve, resolve_with};
use serde_json::{Value, json};

fn pod_on(node: &str, name: &str) -> Value {
    json!({
        "metadata": {"name": name, "namespace": "default",
                     "annotations": {NETWORKS: "net1"},
                     "managedFields": [{"manager": "kubelet", "operation": "Update"}]},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]}
    })
}

async fn start(env: &Env, node: Option<&str>) -> Informers {
    let (informers, report) =
        Informers::start(env.client().await, node, Duration::from_secs(5)).await;
    assert!(report.all_synced(), "{report:?}");
    informers
}

/// Waits up to 5 s for `check`.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check() {
        assert!(Instant::now() < deadline, "{what}: not within 5 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn gets_of(env: &Env, path: &str) -> usize {
    env.server.requests_matching("GET", path).len()
}

#[tokio::test]
async fn a_nad_created_after_start_is_cached_and_read_without_a_get() {
    let env = Env::new().await;
    env.server.insert_nad("default", "before", Some("{}"), &[]);
    let informers = start(&env, None).await;
    assert!(informers.nads.get("default", "before").is_some());

    env.server
        .insert_nad("testns1", "after", Some(r#"{"type":"macvlan"}"#), &[]);
    eventually("the new NAD in the cache", || {
        informers.nads.get("testns1", "after").is_some()
    })
    .await;
    let nad = informers.nads.nad("testns1", "after").await.unwrap();
    assert_eq!(nad.config(), r#"{"type":"macvlan"}"#);
    const NAD_GET: &str = "/apis/k8s.cni.cncf.io/v1/namespaces/*/network-attachment-definitions/*";
    assert_eq!(gets_of(&env, NAD_GET), 0, "a cache hit reads no NAD");

    // Changes and deletions follow too.
    env.server
        .insert_nad("testns1", "after", Some(r#"{"type":"ipvlan"}"#), &[]);
    eventually("the change", || {
        informers
            .nads
            .get("testns1", "after")
            .is_some_and(|n| n.config() == r#"{"type":"ipvlan"}"#)
    })
    .await;
    env.server.delete_nad("testns1", "after");
    eventually("the deletion", || {
        informers.nads.get("testns1", "after").is_none()
    })
    .await;
    let err = informers.nads.nad("testns1", "after").await.unwrap_err();
    assert!(err.is_nad_not_found(), "{err}");
    assert_eq!(
        err.to_string(),
        "getKubernetesDelegate: cannot find a network-attachment-definition (after) in namespace \
         (testns1): network-attachment-definitions.k8s.cni.cncf.io \"after\" not found"
    );
    assert_eq!(gets_of(&env, NAD_GET), 1, "the miss was read live once");
}

#[tokio::test]
async fn a_cache_miss_is_read_live() {
    let env = Env::new().await;
    // The informer's future is never run: its cache stays empty.
    let (nads, _not_running) = nad_informer(env.client().await);
    env.server.insert_nad("default", "fresh", Some("{}"), &[]);
    assert_eq!(nads.nad("default", "fresh").await.unwrap().config(), "{}");
    assert_eq!(
        gets_of(
            &env,
            "/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions/fresh"
        ),
        1
    );
}

#[tokio::test]
async fn only_this_nodes_pods_are_cached_trimmed() {
    let env = Env::new().await;
    env.server.insert_pod(pod_on("node-a", "mine"));
    env.server.insert_pod(pod_on("node-b", "theirs"));
    let informers = start(&env, Some("node-a")).await;
    let lists: Vec<String> = env
        .server
        .requests_matching("GET", "/api/v1/pods")
        .iter()
        .map(|r| r.query.clone())
        .collect();
    assert!(
        lists
            .iter()
            .all(|q| q.contains("fieldSelector=spec.nodeName%3Dnode-a")),
        "{lists:?}"
    );
    env.server.insert_pod(pod_on("node-b", "theirs-2"));
    env.server.insert_pod(pod_on("node-a", "mine-2"));
    eventually("the new pod of this node", || {
        informers.pods.get("default", "mine-2").is_some()
    })
    .await;
    let mut names: Vec<String> = informers
        .pods
        .store()
        .state()
        .iter()
        .map(|p| p.metadata.name.clone().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["mine", "mine-2"]);
    let mine = informers.pods.get("default", "mine").unwrap();
    assert!(mine.metadata.managed_fields.is_none());
    assert_eq!(
        mine.metadata.annotations.as_ref().unwrap()[NETWORKS],
        "net1"
    );
    let spec = mine.spec.as_ref().unwrap();
    assert_eq!(spec.node_name.as_deref(), Some("node-a"));
    assert!(spec.containers.is_empty());
    assert!(!mine.metadata.uid.as_deref().unwrap_or_default().is_empty());
}

#[tokio::test]
async fn a_pod_created_during_the_lookup_is_found() {
    let env = Env::new().await;
    let informers = start(&env, Some("node-a")).await;
    let server = &env.server;
    let started = Instant::now();
    let (found, _) = tokio::join!(
        informers
            .pods
            .lookup_pod("default", "late", "", true, CachedPodRetry::THICK),
        async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            server.insert_pod(pod_on("node-a", "late"));
        }
    );
    let elapsed = started.elapsed();
    let pod = found.unwrap().for_add().unwrap().unwrap();
    assert_eq!(pod.metadata.name.as_deref(), Some("late"));
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
    assert_eq!(gets_of(&env, "/api/v1/namespaces/default/pods/late"), 0);
}

#[tokio::test]
async fn a_missing_pod_is_not_found_after_the_budget_and_one_live_get() {
    let env = Env::new().await;
    let informers = start(&env, Some("node-a")).await;
    let started = Instant::now();
    let lookup = informers
        .pods
        .lookup_pod("default", "nope", "", true, CachedPodRetry::THICK)
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(lookup, PodLookup::NotFound);
    assert!(
        elapsed >= Duration::from_millis(2500) && elapsed < Duration::from_millis(3500),
        "{elapsed:?}"
    );
    let gets: Vec<Option<u16>> = env
        .server
        .requests_matching("GET", "/api/v1/namespaces/default/pods/nope")
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(gets, [Some(404)]);

    // Not on ADD: not found at once, no GET.
    let started = Instant::now();
    let lookup = informers
        .pods
        .lookup_pod("default", "nope", "", false, CachedPodRetry::THICK)
        .await
        .unwrap();
    assert_eq!(lookup, PodLookup::NotFound);
    assert!(started.elapsed() < Duration::from_millis(100));
    assert_eq!(gets_of(&env, "/api/v1/namespaces/default/pods/nope"), 1);
}

#[tokio::test]
async fn the_live_get_finds_what_the_cache_cannot_see() {
    let env = Env::new().await;
    // On another node: never in this node's cache, but the API has it.
    let uid = env.server.insert_pod(pod_on("node-b", "elsewhere"))["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_owned();
    let informers = start(&env, Some("node-a")).await;
    let quick = CachedPodRetry {
        total: Duration::from_millis(200),
        ..CachedPodRetry::THICK
    };
    let found = informers
        .pods
        .lookup_pod("default", "elsewhere", &uid, true, quick)
        .await
        .unwrap();
    let pod = found.for_add().unwrap().unwrap();
    assert!(
        pod.metadata.managed_fields.is_none(),
        "trimmed like the cache"
    );
    let mismatch = informers
        .pods
        .lookup_pod("default", "elsewhere", "another-uid", true, quick)
        .await
        .unwrap();
    let err = mismatch.for_add().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "expected pod UID \"another-uid\" but got \"{uid}\" from Kube API (pod default/elsewhere)"
        )
    );
    // The live GET is bounded: a slow API fails the lookup instead of holding it.
    env.server.set_delay_for(
        "/api/v1/namespaces/default/pods/elsewhere",
        Duration::from_millis(500),
    );
    let err = informers
        .pods
        .lookup_pod("default", "elsewhere", &uid, true, quick)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "error waiting for pod: timed out after 50 ms (pod default/elsewhere)"
    );
}

#[tokio::test]
async fn start_up_goes_on_when_the_api_is_down_and_the_caches_fill_later() {
    let env = Env::new().await;
    env.server.insert_pod(pod_on("node-a", "p"));
    env.server.set_down(true).unwrap();
    let started = Instant::now();
    let (informers, report) = Informers::start(
        env.client().await,
        Some("node-a"),
        Duration::from_millis(500),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(!report.pods_synced && !report.nads_synced, "{report:?}");
    assert!(!informers.pods.is_ready());
    env.server.set_down(false).unwrap();
    assert!(
        informers
            .pods
            .wait_until_ready(Duration::from_secs(15))
            .await
    );
    assert!(
        informers
            .nads
            .wait_until_ready(Duration::from_secs(15))
            .await
    );
    assert!(informers.pods.get("default", "p").is_some());
}

#[tokio::test]
async fn resolving_through_the_cache_plans_what_the_api_plans() {
    let env = Env::guide().await;
    let conf = env.conf(json!({}));
    let pod = env.pod("default", "pod-case-01").await;
    let args = k8s_args("default", "pod-case-01");
    let request =
        ResolveRequest::new(&conf, &args, common::CONTAINER_ID, "eth0").with_pod(Some(&pod));
    let client = env.client().await;
    let live = resolve(Some(&client), &request).await.unwrap();
    let informers = start(&env, None).await;
    env.server.clear_requests();
    let cached = resolve_with(Some(&informers.nads), Some(&client), &request)
        .await
        .unwrap();
    assert_eq!(
        format!("{:?}", cached.attachments),
        format!("{:?}", live.attachments)
    );
    assert!(cached.attachments.len() > 1);
    // No read of any object: the watchers' own (re)connections may still land.
    let reads: Vec<_> = env
        .server
        .requests()
        .into_iter()
        .filter(|r| !r.query.contains("watch=true"))
        .collect();
    assert!(reads.is_empty(), "{reads:?}");
}

/// The daemon serves requests on a multi-threaded runtime: these futures are
/// `Send` (checked at compile time). `resolve_with`'s is not yet: its
/// `ResolveRequest` holds a `&dyn DeviceSource`, which is not `Sync`.
#[allow(dead_code)]
fn futures_are_send(informers: &Informers, client: &kube::Client) {
    fn send<T: Send>(_: T) {}
    send(
        informers
            .pods
            .lookup_pod("a", "b", "", true, CachedPodRetry::THICK),
    );
    send(informers.nads.nad("a", "b"));
    send(Informers::start(client.clone(), None, Duration::ZERO));
}
