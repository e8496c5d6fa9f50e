//! Azure Storage access shared by the Scaleboard server and worker.
//!
//! Both binaries talk to the same queues and containers through the official
//! `azure_storage_queue` / `azure_storage_blob` crates. This crate turns the ways people hold
//! credentials (a connection string, an account name and key, a SAS token, or Entra ID through
//! workload identity on AKS) into configured clients, and knows the names of every queue and
//! container so that no other crate spells them.
//!
//! # Layout
//! - [`names`]: the queues and containers Scaleboard uses.
//! - [`account`]: where the account is and how to authenticate, parsed from a connection string
//!   or from separate settings (pure, unit-tested).
//! - [`role`]: who connects (server or worker) and the SAS permissions each one needs.
//! - [`sas`]: account SAS tokens signed with the account key.
//! - [`args`]: the command-line flags and environment variables for all of the above.
//! - [`leases`]: blob leases (acquire, renew, release, break): one owner of a blob at a time.
//! - [`messages`]: queue messages: base64 bodies, receive, delete, extend visibility.
//! - [`client`]: [`Storage`], the connected clients (renewing their SAS before it ends) and the
//!   few operations both binaries need.
//! - [`observe`]: an [`observe::Observer`] hears how each call ends (per operation), so a binary
//!   can count calls and errors without this crate knowing about its metrics.

pub mod account;
pub mod args;
pub mod blobs;
pub mod client;
pub mod leases;
pub mod messages;
pub mod names;
pub mod observe;
pub mod role;
pub mod sas;

mod error;

pub use account::{Account, Credential};
pub use args::StorageArgs;
pub use client::Storage;
pub use error::{Error, Result};
pub use role::Role;
