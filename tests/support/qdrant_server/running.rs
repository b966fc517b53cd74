//! The server's thread and its tonic router.

use std::net::TcpListener as StdTcpListener;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use qdrant_client::qdrant::collections_server::CollectionsServer;
use qdrant_client::qdrant::points_server::PointsServer;
use qdrant_client::qdrant::qdrant_server::QdrantServer;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_stream::StreamExt as _;
use tonic::transport::Server;

use super::rpcs::Service;
use super::Shared;

pub(super) struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    thread: JoinHandle<()>,
}

impl Running {
    pub(super) fn spawn(shared: Arc<Shared>, listener: StdTcpListener) -> Running {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("qdrant-test-server".to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("build the server's runtime");
                runtime.block_on(serve(shared, listener, stopped));
                runtime.shutdown_timeout(Duration::from_secs(5));
            })
            .expect("spawn the server thread");
        Running { stop, thread }
    }

    pub(super) fn stop(self) {
        let _ = self.stop.send(());
        if self.thread.join().is_err() {
            eprintln!("the Qdrant test server's thread panicked");
        }
    }
}

async fn serve(shared: Arc<Shared>, listener: StdTcpListener, stopped: tokio::sync::oneshot::Receiver<()>) {
    listener.set_nonblocking(true).expect("a non-blocking listener");
    let listener = tokio::net::TcpListener::from_std(listener).expect("register the listener");
    let limit = shared.max_request_bytes;
    let service = Service(shared);
    let router = Server::builder()
        .add_service(QdrantServer::new(service.clone()).max_decoding_message_size(limit))
        .add_service(CollectionsServer::new(service.clone()).max_decoding_message_size(limit))
        .add_service(PointsServer::new(service).max_decoding_message_size(limit));
    // As Qdrant's server does: without it, answers wait on Nagle and delayed ACKs.
    let incoming = TcpListenerStream::new(listener).map(|stream| {
        let stream = stream?;
        stream.set_nodelay(true)?;
        Ok::<_, std::io::Error>(stream)
    });
    tokio::select! {
        result = router.serve_with_incoming(incoming) => {
            if let Err(error) = result {
                eprintln!("the Qdrant test server failed: {error}");
            }
        }
        _ = stopped => {}
    }
}
