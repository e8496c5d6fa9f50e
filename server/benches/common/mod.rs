//! What the benchmarks share: settings from the environment and a private Azurite with
//! Scaleboard's containers and queues.

#![allow(dead_code)]

use azurite::{Azurite, Options};
use storage::{Storage, StorageArgs};

/// A number from the environment, or `default` when unset or not a number.
pub fn env_or(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A fresh Azurite and a client with the resources created. Keep the Azurite alive: dropping
/// it stops the emulator.
pub async fn private_storage() -> (Azurite, Storage) {
    let azurite = Azurite::start(&Options::for_tests()).expect("start Azurite");
    let account = StorageArgs::azurite(azurite.ports().blob, azurite.ports().queue)
        .account()
        .unwrap();
    let storage = Storage::connect(&account).unwrap();
    storage.ensure_resources().await.unwrap();
    (azurite, storage)
}
