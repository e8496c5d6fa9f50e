//! The signals that end a process: Ctrl-C in a terminal, SIGTERM from Kubernetes or a
//! supervisor.

use tokio_util::sync::CancellationToken;

/// Cancels `shutdown` on Ctrl-C or SIGTERM, logging `message`; returns early, without
/// cancelling, if `shutdown` is cancelled some other way first.
pub async fn cancel_on_signal(shutdown: CancellationToken, message: &'static str) {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            tracing::warn!("cannot listen for SIGTERM: {e}");
            tokio::select! {
                _ = ctrl_c => {},
                _ = shutdown.cancelled() => return,
            }
            shutdown.cancel();
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
        _ = shutdown.cancelled() => return,
    }
    tracing::info!("{message}");
    shutdown.cancel();
}
