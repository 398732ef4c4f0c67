//! A stand-in kubelet pod-resources server: `v1.PodResourcesLister` over
//! gRPC on a unix socket in a directory of the test's own, answering `List`
//! with the pods, containers and devices the test sets.
//!
//! Faults: a delay before each answer ([`Kubelet::set_delay`]), a gRPC error
//! status instead of an answer ([`Kubelet::fail_with`]), and a socket file
//! that is present but refuses connections ([`Kubelet::refuse_connections`],
//! a kubelet that died without removing it). [`Kubelet::remove_socket`]
//! takes the socket away altogether (a node without the API).
//!
//! ```no_run
//! # fn demo() -> std::io::Result<()> {
//! use multus_testsupport::kubelet::Kubelet;
//! let kubelet = Kubelet::start_blocking()?;
//! kubelet.add_devices("default", "sriov-pod", "app", "intel.com/sriov", &["0000:03:02.0"]);
//! // point the code under test at kubelet.socket()
//! assert_eq!(kubelet.list_calls(), 0);
//! # Ok(()) }
//! ```

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use multus_podresources::proto::pod_resources_lister_server::{
    PodResourcesLister, PodResourcesListerServer,
};
use multus_podresources::proto::{
    AllocatableResourcesRequest, AllocatableResourcesResponse, ContainerDevices,
    ContainerResources, GetPodResourcesRequest, GetPodResourcesResponse, ListPodResourcesRequest,
    ListPodResourcesResponse, PodResources,
};
use tokio::sync::oneshot;
use tonic::{Request, Response, Status};

use crate::server::lock;

/// gRPC status codes, for [`Kubelet::fail_with`].
pub use tonic::Code;

#[derive(Debug, Default)]
struct State {
    pods: Vec<PodResources>,
    delay: Duration,
    failure: Option<(tonic::Code, String)>,
    list_calls: usize,
}

#[derive(Debug, Clone, Default)]
struct Service {
    state: Arc<Mutex<State>>,
}

#[tonic::async_trait]
impl PodResourcesLister for Service {
    async fn list(
        &self,
        _: Request<ListPodResourcesRequest>,
    ) -> Result<Response<ListPodResourcesResponse>, Status> {
        let (delay, failure) = {
            let mut state = lock(&self.state);
            state.list_calls += 1;
            (state.delay, state.failure.clone())
        };
        tokio::time::sleep(delay).await;
        if let Some((code, message)) = failure {
            return Err(Status::new(code, message));
        }
        let pod_resources = lock(&self.state).pods.clone();
        Ok(Response::new(ListPodResourcesResponse { pod_resources }))
    }

    async fn get_allocatable_resources(
        &self,
        _: Request<AllocatableResourcesRequest>,
    ) -> Result<Response<AllocatableResourcesResponse>, Status> {
        Err(Status::unimplemented("not served by the stand-in kubelet"))
    }

    async fn get(
        &self,
        request: Request<GetPodResourcesRequest>,
    ) -> Result<Response<GetPodResourcesResponse>, Status> {
        let request = request.into_inner();
        let state = lock(&self.state);
        let pod = state
            .pods
            .iter()
            .find(|p| p.name == request.pod_name && p.namespace == request.pod_namespace)
            .cloned()
            .ok_or_else(|| {
                Status::not_found(format!(
                    "pod {} in namespace {} not found",
                    request.pod_name, request.pod_namespace
                ))
            })?;
        Ok(Response::new(GetPodResourcesResponse {
            pod_resources: Some(pod),
        }))
    }
}

/// A running stand-in kubelet. Dropping it stops the server and removes its directory.
#[derive(Debug)]
pub struct Kubelet {
    service: Service,
    dir: tempfile::TempDir,
    socket: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Kubelet {
    /// Starts serving on `kubelet.sock` in a fresh temporary directory, on a
    /// thread of its own (usable from plain and async tests alike).
    pub fn start_blocking() -> io::Result<Self> {
        let dir = tempfile::Builder::new().prefix("mrs-kubelet-").tempdir()?;
        let socket = dir.path().join("kubelet.sock");
        let mut kubelet = Self {
            service: Service::default(),
            dir,
            socket,
            stop: None,
            thread: None,
        };
        kubelet.serve()?;
        Ok(kubelet)
    }

    fn serve(&mut self) -> io::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        // Bound here, so the socket exists when this returns.
        let listener = {
            let _entered = runtime.enter();
            tokio::net::UnixListener::bind(&self.socket)?
        };
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let service = PodResourcesListerServer::new(self.service.clone());
        let thread = std::thread::Builder::new()
            .name("stand-in-kubelet".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let incoming = tokio_stream::wrappers::UnixListenerStream::new(listener);
                    let serving =
                        tonic::transport::Server::builder().serve_with_incoming(service, incoming);
                    // Not a graceful shutdown: that would wait for clients to hang up, and a
                    // client on the stopping test's own thread never gets to. Dropping the
                    // runtime below drops every open connection.
                    tokio::select! {
                        _ = serving => {}
                        _ = stop_rx => {}
                    }
                });
                drop(runtime);
            })?;
        self.stop = Some(stop_tx);
        self.thread = Some(thread);
        Ok(())
    }

    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// The socket to point the code under test at.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Adds `device_ids` of `resource` to `container` of pod
    /// `namespace`/`name` (pod and container created as needed).
    pub fn add_devices(
        &self,
        namespace: &str,
        name: &str,
        container: &str,
        resource: &str,
        device_ids: &[&str],
    ) {
        let mut state = lock(&self.service.state);
        let pod = match state
            .pods
            .iter()
            .position(|p| p.name == name && p.namespace == namespace)
        {
            Some(i) => &mut state.pods[i],
            None => {
                state.pods.push(PodResources {
                    name: name.to_owned(),
                    namespace: namespace.to_owned(),
                    containers: Vec::new(),
                });
                let last = state.pods.len() - 1;
                &mut state.pods[last]
            }
        };
        let c = match pod.containers.iter().position(|c| c.name == container) {
            Some(i) => &mut pod.containers[i],
            None => {
                pod.containers.push(ContainerResources {
                    name: container.to_owned(),
                    ..ContainerResources::default()
                });
                let last = pod.containers.len() - 1;
                &mut pod.containers[last]
            }
        };
        c.devices.push(ContainerDevices {
            resource_name: resource.to_owned(),
            device_ids: device_ids.iter().map(|s| (*s).to_owned()).collect(),
            topology: None,
        });
    }

    /// Replaces everything `List` answers.
    pub fn set_pods(&self, pods: Vec<PodResources>) {
        lock(&self.service.state).pods = pods;
    }

    /// Every later `List` answers after `delay`.
    pub fn set_delay(&self, delay: Duration) {
        lock(&self.service.state).delay = delay;
    }

    /// Every later `List` answers this gRPC error (`None`: answers again).
    pub fn fail_with(&self, failure: Option<(tonic::Code, &str)>) {
        lock(&self.service.state).failure = failure.map(|(c, m)| (c, m.to_owned()));
    }

    /// How many `List` calls were received.
    pub fn list_calls(&self) -> usize {
        lock(&self.service.state).list_calls
    }

    /// Stops serving but leaves a socket file nobody listens on: dialling it
    /// is refused (`ECONNREFUSED`), as after a kubelet crash.
    pub fn refuse_connections(&mut self) -> io::Result<()> {
        self.stop();
        let _ = std::fs::remove_file(&self.socket);
        // Binding creates the socket file; dropping the listener leaves the file behind.
        drop(std::os::unix::net::UnixListener::bind(&self.socket)?);
        Ok(())
    }

    /// Stops serving and removes the socket file (a node without the API).
    pub fn remove_socket(&mut self) -> io::Result<()> {
        self.stop();
        match std::fs::remove_file(&self.socket) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Serves again (after [`Kubelet::refuse_connections`] or [`Kubelet::remove_socket`]).
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop();
        let _ = std::fs::remove_file(&self.socket);
        self.serve()
    }

    /// The directory holding the socket (removed on drop).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.stop();
    }
}
