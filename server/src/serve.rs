//! The HTTP server loop: hyper's HTTP/1 connection settings that `axum::serve` does not expose,
//! and a cap on open connections.
//!
//! A client that opens a connection and sends half a request would otherwise hold it forever;
//! thousands of them would exhaust the process's file descriptors. So each connection must send
//! its request head within [`Limits::header_read_timeout`], and at most
//! [`Limits::max_connections`] are open at once (further ones wait in the kernel's accept
//! queue). Whole-request time and body size are capped by layers on the router.

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Connection limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections open at once, live sockets included.
    pub max_connections: usize,
    /// Time a connection has to send a request's head.
    pub header_read_timeout: Duration,
    /// Time requests in flight have to finish once shutdown begins.
    pub drain: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 20_000,
            header_read_timeout: Duration::from_secs(10),
            drain: Duration::from_secs(10),
        }
    }
}

/// Serves `router` on `listener` until `shutdown`, then lets requests in flight finish (within
/// `limits.drain`) and closes idle connections.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let connections = TaskTracker::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    loop {
        let permit = tokio::select! {
            _ = shutdown.cancelled() => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // The live feed writes small frames back to back (a sample, then the runs that changed;
        // a snapshot in parts): with Nagle's algorithm each second frame would wait for the
        // viewer's delayed acknowledgement of the first, up to 40 ms on Linux.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!("could not turn off Nagle's algorithm on a connection: {e}");
        }
        let service = TowerToHyperService::new(router.clone());
        let connection = http
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let mut connection = pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = shutdown.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    connections.close();
    if tokio::time::timeout(limits.drain, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            "{} connection(s) still open after {:?}; closing them",
            connections.len(),
            limits.drain
        );
    }
    Ok(())
}
