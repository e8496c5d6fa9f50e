//! The storage crate against a real Azurite, started for this test on free ports.

use azure_storage_queue::models::QueueMessage;
use azurite::{Azurite, Options};
use std::time::Duration;

use storage::blobs::Condition;
use storage::{names, Role, Storage, StorageArgs};

fn start() -> (Azurite, Storage) {
    let azurite = Azurite::start(&Options::for_tests()).expect("start Azurite");
    let ports = azurite.ports();
    let account = StorageArgs::azurite(ports.blob, ports.queue)
        .account()
        .unwrap();
    let storage = Storage::connect(&account, Role::Server).unwrap();
    (azurite, storage)
}

#[tokio::test]
async fn creates_resources_idempotently_and_counts_messages() {
    let (_azurite, storage) = start();
    storage.ensure_resources().await.unwrap();
    // A second start-up finds everything in place and is not an error.
    storage.ensure_resources().await.unwrap();

    assert_eq!(storage.queue_length(names::WORK_QUEUE).await.unwrap(), 0);
    let queue = storage.queue(names::WORK_QUEUE).unwrap();
    for i in 0..7 {
        let message = QueueMessage {
            message_text: Some(format!("item {i}")),
        };
        queue
            .send_message(message.try_into().unwrap(), None)
            .await
            .unwrap();
    }
    assert_eq!(storage.queue_length(names::WORK_QUEUE).await.unwrap(), 7);
    assert_eq!(storage.queue_length(names::EVENTS_QUEUE).await.unwrap(), 0);

    for container in names::CONTAINERS {
        assert!(
            storage.container(container).exists().await.unwrap(),
            "{container}"
        );
    }
}

#[tokio::test]
async fn a_stopped_emulator_gives_an_error_naming_the_endpoint() {
    let (mut azurite, storage) = start();
    azurite.stop();
    let err = storage
        .within(
            Duration::from_secs(3),
            "reading the length of queue `work-items`",
            storage.queue_length(names::WORK_QUEUE),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(storage.queue_endpoint()), "{err}");
}

/// An error and its sources, as `{:#}` logs them.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text = format!("{text}: {e}");
        source = e.source();
    }
    text
}

#[tokio::test]
async fn each_role_can_do_its_part_and_a_worker_cannot_list() {
    let (_azurite, server) = start();
    server.ensure_resources().await.unwrap();
    let worker = server.with_role(Role::Worker).unwrap();

    // The server puts an item.
    let input = "run-1/00000001.json";
    server
        .upload_blob(
            names::INPUT_CONTAINER,
            input,
            b"{}".to_vec(),
            "application/json",
        )
        .await
        .unwrap();
    server.send(names::WORK_QUEUE, "work").await.unwrap();
    assert_eq!(server.queue_length(names::WORK_QUEUE).await.unwrap(), 1);

    // A worker takes it, extends its lease, reads the input, writes the output (twice, as a
    // second delivery would), reports, and cleans up.
    let mut message = worker
        .receive(names::WORK_QUEUE, 1, Duration::from_secs(30))
        .await
        .unwrap()
        .pop()
        .expect("the work message");
    worker
        .set_visibility(names::WORK_QUEUE, &mut message, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(worker
        .download_blob(names::INPUT_CONTAINER, input)
        .await
        .unwrap()
        .is_some());
    for _ in 0..2 {
        worker
            .upload_blob(
                names::OUTPUT_CONTAINER,
                input,
                b"{}".to_vec(),
                "application/json",
            )
            .await
            .unwrap();
    }
    assert!(worker
        .download_blob(names::OUTPUT_CONTAINER, input)
        .await
        .unwrap()
        .is_some());
    worker.send(names::EVENTS_QUEUE, "done").await.unwrap();
    worker.send(names::POISON_QUEUE, "bad").await.unwrap();
    worker
        .delete_blob(names::INPUT_CONTAINER, input)
        .await
        .unwrap();
    worker.delete(names::WORK_QUEUE, &message).await.unwrap();

    // A worker lists nothing (so it cannot find other runs' blobs), and the refusal carries no
    // signature in any form an error is logged in.
    let err = worker
        .list_blob_names(names::OUTPUT_CONTAINER, "")
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), Some(403), "{err}");
    for text in [err.to_string(), format!("{err:?}"), chain(&err)] {
        assert!(!text.contains("sig="), "{text}");
    }

    // The server reads events, lists and reads outputs, and keeps run documents under ETags.
    let events = server
        .receive(names::EVENTS_QUEUE, 32, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    server
        .delete(names::EVENTS_QUEUE, &events[0])
        .await
        .unwrap();
    assert_eq!(
        server
            .list_blob_names(names::OUTPUT_CONTAINER, "run-1/")
            .await
            .unwrap(),
        [input]
    );
    let doc = "run-1.json";
    let etag = server
        .upload_blob_if(
            names::ORCHESTRATIONS_CONTAINER,
            doc,
            b"1".to_vec(),
            "application/json",
            Condition::Absent,
        )
        .await
        .unwrap()
        .unwrap();
    server
        .upload_blob_if(
            names::ORCHESTRATIONS_CONTAINER,
            doc,
            b"2".to_vec(),
            "application/json",
            Condition::Matches(etag),
        )
        .await
        .unwrap()
        .unwrap();
    server
        .delete_blob(names::OUTPUT_CONTAINER, input)
        .await
        .unwrap();
}
