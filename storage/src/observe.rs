//! Seeing each storage call end: an [`Observer`] hears, per [`Operation`], whether each call
//! succeeded, so a binary can count calls and errors (the server's Prometheus metrics do)
//! without this crate knowing how they are counted or exported.

use std::future::Future;
use std::sync::Arc;

/// The kinds of storage call, a small fixed set: what a metrics label may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    SendMessage,
    ReceiveMessages,
    DeleteMessage,
    UpdateMessage,
    QueueLength,
    CreateResources,
    UploadBlob,
    DownloadBlob,
    DeleteBlob,
    ListBlobs,
    LeaseBlob,
}

impl Operation {
    /// Every operation, for exporting each one's counters before its first call.
    pub const ALL: [Operation; 11] = [
        Operation::SendMessage,
        Operation::ReceiveMessages,
        Operation::DeleteMessage,
        Operation::UpdateMessage,
        Operation::QueueLength,
        Operation::CreateResources,
        Operation::UploadBlob,
        Operation::DownloadBlob,
        Operation::DeleteBlob,
        Operation::ListBlobs,
        Operation::LeaseBlob,
    ];

    /// Its name in `snake_case`, as a label value.
    pub fn name(self) -> &'static str {
        match self {
            Operation::SendMessage => "send_message",
            Operation::ReceiveMessages => "receive_messages",
            Operation::DeleteMessage => "delete_message",
            Operation::UpdateMessage => "update_message",
            Operation::QueueLength => "queue_length",
            Operation::CreateResources => "create_resources",
            Operation::UploadBlob => "upload_blob",
            Operation::DownloadBlob => "download_blob",
            Operation::DeleteBlob => "delete_blob",
            Operation::ListBlobs => "list_blobs",
            Operation::LeaseBlob => "lease_blob",
        }
    }
}

/// Hears the end of every storage call made through a [`crate::Storage`] it was given to.
pub trait Observer: Send + Sync + 'static {
    /// A call of `operation` ended: `ok` is false when it returned an error or was abandoned
    /// before it answered (a caller's deadline passed).
    fn observe(&self, operation: Operation, ok: bool);
}

/// Runs `call`, telling `observer` how it ended; a call dropped before it finishes counts as a
/// failure, so calls always equal successes plus failures.
pub(crate) async fn observed<T, E>(
    observer: Option<&Arc<dyn Observer>>,
    operation: Operation,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let Some(observer) = observer else {
        return call.await;
    };
    let mut pending = Pending {
        observer: observer.as_ref(),
        operation,
        ended: false,
    };
    let result = call.await;
    pending.end(result.is_ok());
    result
}

/// Reports a call once: when it ends, or as a failure when it is dropped first.
struct Pending<'a> {
    observer: &'a dyn Observer,
    operation: Operation,
    ended: bool,
}

impl Pending<'_> {
    fn end(&mut self, ok: bool) {
        self.ended = true;
        self.observer.observe(self.operation, ok);
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.observer.observe(self.operation, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;

    #[derive(Default)]
    struct Heard(Mutex<Vec<(Operation, bool)>>);

    impl Observer for Heard {
        fn observe(&self, operation: Operation, ok: bool) {
            self.0.lock().unwrap().push((operation, ok));
        }
    }

    #[tokio::test]
    async fn successes_failures_and_abandoned_calls_are_each_heard_once() {
        let heard = Arc::new(Heard::default());
        let observer: Arc<dyn Observer> = heard.clone();
        let ok: Result<u8, ()> =
            observed(Some(&observer), Operation::SendMessage, async { Ok(1) }).await;
        assert_eq!(ok, Ok(1));
        let failed: Result<u8, &str> =
            observed(Some(&observer), Operation::DeleteBlob, async { Err("no") }).await;
        assert_eq!(failed, Err("no"));
        let never = observed::<u8, ()>(
            Some(&observer),
            Operation::ReceiveMessages,
            std::future::pending(),
        );
        assert!(tokio::time::timeout(Duration::from_millis(1), never)
            .await
            .is_err());
        let unobserved: Result<u8, ()> =
            observed(None, Operation::QueueLength, async { Ok(2) }).await;
        assert_eq!(unobserved, Ok(2));

        assert_eq!(
            *heard.0.lock().unwrap(),
            vec![
                (Operation::SendMessage, true),
                (Operation::DeleteBlob, false),
                (Operation::ReceiveMessages, false),
            ]
        );
    }

    #[test]
    fn names_are_distinct_snake_case() {
        let names: std::collections::HashSet<_> = Operation::ALL.iter().map(|o| o.name()).collect();
        assert_eq!(names.len(), Operation::ALL.len());
        assert!(names
            .iter()
            .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
    }
}
