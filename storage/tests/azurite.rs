//! The storage crate against a real Azurite, started for this test on free ports.

use azure_storage_queue::models::QueueMessage;
use azurite::{Azurite, Options};
use storage::{names, Storage, StorageArgs};

fn start() -> (Azurite, Storage) {
    let azurite = Azurite::start(&Options::for_tests()).expect("start Azurite");
    let ports = azurite.ports();
    let account = StorageArgs::azurite(ports.blob, ports.queue)
        .account()
        .unwrap();
    let storage = Storage::connect(&account).unwrap();
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
            std::time::Duration::from_secs(3),
            "reading the length of queue `work-items`",
            storage.queue_length(names::WORK_QUEUE),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(storage.queue_endpoint()), "{err}");
}
