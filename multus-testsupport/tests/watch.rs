//! Watches on the stand-in API server, read by the real kube client: `Api::watch` and
//! kube-runtime's `watcher`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{TempDir, client_from_file};
use futures_util::{Stream, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::WatchParams;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher;
use multus_testsupport::ApiServer;
use serde_json::{Value, json};

struct Setup {
    server: ApiServer,
    client: kube::Client,
    _dir: TempDir,
}

async fn setup() -> Setup {
    let server = ApiServer::start().await.unwrap();
    let dir = TempDir::new("watch");
    let kubeconfig = dir.path().join("multus.kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    let client = client_from_file(&kubeconfig).await;
    Setup {
        server,
        client,
        _dir: dir,
    }
}

fn pod(name: &str, node: &str, labels: Value) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]}
    }))
    .unwrap()
}

/// The next event that is not a bookmark, within 5 s.
async fn next_change<S>(stream: &mut S) -> (String, String, String)
where
    S: Stream<Item = kube::Result<WatchEvent<Pod>>> + Unpin,
{
    loop {
        let event = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("no watch event within 5 s")
            .expect("the watch ended")
            .expect("a watch error");
        let (kind, p) = match event {
            WatchEvent::Added(p) => ("ADDED", p),
            WatchEvent::Modified(p) => ("MODIFIED", p),
            WatchEvent::Deleted(p) => ("DELETED", p),
            WatchEvent::Bookmark(_) => continue,
            WatchEvent::Error(e) => panic!("error event: {e:?}"),
        };
        return (
            kind.to_string(),
            p.metadata.name.unwrap_or_default(),
            p.metadata.resource_version.unwrap_or_default(),
        );
    }
}

#[tokio::test]
async fn watch_after_a_list_sees_every_write() {
    let s = setup().await;
    let pods: Api<Pod> = Api::namespaced(s.client.clone(), "default");
    s.server.insert_pod(pod("before", "node-a", json!({})));
    let list = pods.list(&ListParams::default()).await.unwrap();
    let rv = list.metadata.resource_version.clone().unwrap();
    assert_eq!(rv, s.server.resource_version().to_string());
    assert_eq!(list.items.len(), 1);

    let mut stream = pods
        .watch(&WatchParams::default().timeout(10), &rv)
        .await
        .unwrap()
        .boxed();
    // A dry run changes nothing, so no watch hears of it.
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    pods.create(&dry_run, &pod("dry", "node-a", json!({})))
        .await
        .unwrap();
    let created = pods
        .create(&PostParams::default(), &pod("p", "node-a", json!({})))
        .await
        .unwrap();
    let mut replaced = created.clone();
    replaced.metadata.labels = Some([("app".to_string(), "web".to_string())].into());
    let replaced = pods
        .replace("p", &PostParams::default(), &replaced)
        .await
        .unwrap();
    let patched = pods
        .patch(
            "p",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"a": "b"}}})),
        )
        .await
        .unwrap();
    pods.delete("p", &DeleteParams::default()).await.unwrap();

    let rv_of = |p: &Pod| p.metadata.resource_version.clone().unwrap();
    assert_eq!(
        next_change(&mut stream).await,
        ("ADDED".into(), "p".into(), rv_of(&created))
    );
    assert_eq!(
        next_change(&mut stream).await,
        ("MODIFIED".into(), "p".into(), rv_of(&replaced))
    );
    assert_eq!(
        next_change(&mut stream).await,
        ("MODIFIED".into(), "p".into(), rv_of(&patched))
    );
    let deleted = next_change(&mut stream).await;
    assert_eq!((deleted.0.as_str(), deleted.1.as_str()), ("DELETED", "p"));
    assert_eq!(deleted.2, s.server.resource_version().to_string());
}

#[tokio::test]
async fn watch_from_zero_starts_with_the_current_state_and_ends_at_the_timeout() {
    let s = setup().await;
    s.server.insert_pod(pod("a", "node-a", json!({})));
    s.server.insert_pod(pod("b", "node-a", json!({})));
    let pods: Api<Pod> = Api::namespaced(s.client.clone(), "default");
    let started = std::time::Instant::now();
    let events: Vec<WatchEvent<Pod>> = pods
        .watch(&WatchParams::default().timeout(1).disable_bookmarks(), "0")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let elapsed = started.elapsed();
    let names: Vec<String> = events
        .iter()
        .map(|e| match e {
            WatchEvent::Added(p) => p.metadata.name.clone().unwrap(),
            other => panic!("expected only ADDED events, got {other:?}"),
        })
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(4),
        "the watch should end at timeoutSeconds=1, took {elapsed:?}"
    );
}

#[tokio::test]
async fn bookmarks_carry_the_current_resource_version() {
    let s = setup().await;
    let pods: Api<Pod> = Api::namespaced(s.client.clone(), "default");
    // A write to another type moves the global resourceVersion past the pods'.
    s.server.insert_nad("default", "n", Some("{}"), &[]);
    let mut stream = pods
        .watch(&WatchParams::default().timeout(10), "1")
        .await
        .unwrap()
        .boxed();
    let event = tokio::time::timeout(Duration::from_secs(3), stream.next())
        .await
        .expect("a bookmark within 3 s")
        .unwrap()
        .unwrap();
    match event {
        WatchEvent::Bookmark(b) => {
            assert_eq!(b.metadata.resource_version, "1");
            assert_eq!(
                (b.types.kind.as_str(), b.types.api_version.as_str()),
                ("Pod", "v1")
            );
        }
        other => panic!("expected a bookmark, got {other:?}"),
    }
    // Without allowWatchBookmarks there are none: the watch ends silently at its timeout.
    let events: Vec<_> = pods
        .watch(&WatchParams::default().timeout(2).disable_bookmarks(), "1")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(events.is_empty(), "{events:?}");
}

#[tokio::test]
async fn selectors_filter_watch_events() {
    let s = setup().await;
    let all: Api<Pod> = Api::all(s.client.clone());
    let pods: Api<Pod> = Api::namespaced(s.client.clone(), "default");
    let params = WatchParams::default()
        .fields("spec.nodeName=node-a")
        .labels("app=web")
        .timeout(10);
    let rv = s.server.resource_version().to_string();
    let mut stream = all.watch(&params, &rv).await.unwrap().boxed();
    let pp = PostParams::default();
    pods.create(&pp, &pod("other-node", "node-b", json!({"app": "web"})))
        .await
        .unwrap();
    pods.create(&pp, &pod("unlabelled", "node-a", json!({})))
        .await
        .unwrap();
    pods.create(&pp, &pod("mine", "node-a", json!({"app": "web"})))
        .await
        .unwrap();
    assert_eq!(next_change(&mut stream).await.0 + "/mine", "ADDED/mine");
    // Leaving the selection is a deletion for this watch, entering it an addition.
    let label = |v: &str| Patch::Merge(json!({"metadata": {"labels": {"app": v}}}));
    pods.patch("mine", &PatchParams::default(), &label("db"))
        .await
        .unwrap();
    pods.patch("unlabelled", &PatchParams::default(), &label("web"))
        .await
        .unwrap();
    pods.patch("other-node", &PatchParams::default(), &label("x"))
        .await
        .unwrap();
    let (kind, name, _) = next_change(&mut stream).await;
    assert_eq!((kind.as_str(), name.as_str()), ("DELETED", "mine"));
    let (kind, name, _) = next_change(&mut stream).await;
    assert_eq!((kind.as_str(), name.as_str()), ("ADDED", "unlabelled"));
    pods.delete("other-node", &DeleteParams::default())
        .await
        .unwrap();
    pods.delete("unlabelled", &DeleteParams::default())
        .await
        .unwrap();
    let (kind, name, _) = next_change(&mut stream).await;
    assert_eq!((kind.as_str(), name.as_str()), ("DELETED", "unlabelled"));
}

#[tokio::test]
async fn a_compacted_resource_version_is_expired() {
    let s = setup().await;
    s.server.insert_pod(pod("a", "node-a", json!({})));
    let old = s.server.resource_version();
    s.server.insert_pod(pod("b", "node-a", json!({})));
    let pods: Api<Pod> = Api::namespaced(s.client.clone(), "default");
    // Still in the history: the change after `old` is replayed.
    let mut stream = pods
        .watch(&WatchParams::default().timeout(5), &old.to_string())
        .await
        .unwrap()
        .boxed();
    assert_eq!(next_change(&mut stream).await.1, "b");
    drop(stream);

    s.server.compact_watch_history();
    let events: Vec<_> = pods
        .watch(&WatchParams::default().timeout(5), &old.to_string())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    match events.as_slice() {
        [WatchEvent::Error(status)] => {
            assert_eq!(status.code, 410);
            assert_eq!(status.reason, "Expired");
            assert_eq!(
                status.message,
                format!("too old resource version: {old} ({})", old + 1)
            );
        }
        other => panic!("expected one 410 error event, got {other:?}"),
    }
}

#[tokio::test]
async fn going_down_ends_open_watches() {
    let s = setup().await;
    let pods: Api<Pod> = Api::namespaced(s.client.clone(), "default");
    let mut stream = pods
        .watch(&WatchParams::default().timeout(60), "0")
        .await
        .unwrap()
        .boxed();
    s.server.set_down(true).unwrap();
    let end = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            match stream.next().await {
                None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(
        end.is_ok(),
        "the watch stayed open while the server was down"
    );
}

#[tokio::test]
async fn the_watcher_lists_again_after_410() {
    let s = setup().await;
    s.server.insert_pod(pod("a", "node-a", json!({})));
    let pods: Api<Pod> = Api::namespaced(s.client.clone(), "default");
    let mut events = watcher(pods, watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut first = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            watcher::Event::InitApply(p) => first.push(p.metadata.name.unwrap()),
            watcher::Event::InitDone => break,
            _ => {}
        }
    }
    assert_eq!(first, ["a"]);

    // While the watch is cut, a pod is written and the history compacted past it: resuming
    // from the watcher's resourceVersion answers 410, and the watcher lists again.
    s.server.set_down(true).unwrap();
    s.server.insert_pod(pod("b", "node-a", json!({})));
    s.server.compact_watch_history();
    s.server.set_down(false).unwrap();
    let mut relisted = Vec::new();
    let mut expired = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let next = tokio::time::timeout_at(deadline, events.next())
            .await
            .expect("the watcher did not list again within 20 s")
            .unwrap();
        match next {
            Err(watcher::Error::WatchError(status)) if status.code == 410 => expired = true,
            Err(_) => {}
            Ok(watcher::Event::Init) => relisted.clear(),
            Ok(watcher::Event::InitApply(p)) => relisted.push(p.metadata.name.unwrap()),
            Ok(watcher::Event::InitDone) => break,
            Ok(_) => {}
        }
    }
    assert!(expired, "the watcher never saw the 410");
    assert_eq!(relisted, ["a", "b"]);
    let lists = s
        .server
        .requests_matching("GET", "/api/v1/namespaces/default/pods")
        .into_iter()
        .filter(|r| !r.query.contains("watch=true"))
        .count();
    assert_eq!(lists, 2, "one list at start, one after the 410");
}
