//! Queue messages: base64 bodies, receive with a visibility timeout, delete, extend.
//!
//! Bodies are base64 of UTF-8 text, as the Azure SDKs, Azure Functions, Event Grid's storage
//! queue handler and KEDA all expect. A body that is not base64 but is plain JSON (a message
//! put by a tool that does not encode) is still accepted.

use std::time::Duration;

use azure_core::http::headers::HeaderName;
use azure_core::http::StatusCode;
use azure_storage_queue::models::{QueueClientReceiveMessagesOptions, QueueMessage};
use base64::Engine;

use crate::observe::Operation;
use crate::{Error, Result, Storage};

/// A received message and what is needed to delete or extend it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    pub id: String,
    pub pop_receipt: String,
    /// How many times the message has been received, this time included.
    pub dequeue_count: u32,
    /// The decoded body, or the raw body when it was not base64 of UTF-8 text.
    pub text: String,
    /// When the message was put on the queue (Unix milliseconds), as the service says: how long
    /// it waited there is a step of its item's trace.
    pub inserted_ms: Option<u64>,
}

/// Base64 of the text, as queue consumers expect.
pub fn encode(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// The text of a body: base64-decoded when it is base64 of UTF-8, else as it came.
pub fn decode(body: &str) -> String {
    let trimmed = body.trim();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return trimmed.to_string();
    }
    base64::engine::general_purpose::STANDARD
        .decode(trimmed)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_else(|| body.to_string())
}

const POP_RECEIPT: HeaderName = HeaderName::from_static("x-ms-popreceipt");

impl Storage {
    /// Sends `text` (base64-encoded) to `queue`.
    pub async fn send(&self, queue: &str, text: &str) -> Result<()> {
        self.observe(Operation::SendMessage, async {
            let message = QueueMessage {
                message_text: Some(encode(text)),
            };
            let content = message
                .try_into()
                .map_err(|e| Error::Config(format!("encoding a message for `{queue}`: {e}")))?;
            self.queue(queue)?
                .send_message(content, None)
                .await
                .map_err(|e| self.queue_error(format!("sending to queue `{queue}`"), e))?;
            Ok(())
        })
        .await
    }

    /// Receives up to `max` (1–32) messages, hidden from others for `visibility`.
    pub async fn receive(
        &self,
        queue: &str,
        max: u8,
        visibility: Duration,
    ) -> Result<Vec<Received>> {
        self.observe(Operation::ReceiveMessages, async {
            let options = QueueClientReceiveMessagesOptions {
                number_of_messages: Some(i32::from(max.clamp(1, 32))),
                visibility_timeout: Some(seconds(visibility)),
                ..Default::default()
            };
            let operation = || format!("receiving from queue `{queue}`");
            let messages = self
                .queue(queue)?
                .receive_messages(Some(options))
                .await
                .map_err(|e| self.queue_error(operation(), e))?
                .into_model()
                .map_err(|e| self.queue_error(operation(), e))?;
            Ok(messages
                .items
                .unwrap_or_default()
                .into_iter()
                .filter_map(|m| {
                    Some(Received {
                        id: m.message_id?,
                        pop_receipt: m.pop_receipt?,
                        dequeue_count: u32::try_from(m.dequeue_count.unwrap_or(1)).unwrap_or(1),
                        text: decode(m.message_text.as_deref().unwrap_or_default()),
                        inserted_ms: m
                            .insertion_time
                            .and_then(|t| u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()),
                    })
                })
                .collect())
        })
        .await
    }

    /// Deletes a message. A message already gone (deleted by another consumer after its
    /// visibility expired) is not an error: at-least-once delivery makes that normal.
    pub async fn delete(&self, queue: &str, message: &Received) -> Result<()> {
        self.observe(Operation::DeleteMessage, async {
            match self
                .queue(queue)?
                .delete_message(&message.id, &message.pop_receipt, None)
                .await
            {
                Ok(_) => Ok(()),
                Err(e) if e.http_status() == Some(StatusCode::NotFound) => Ok(()),
                Err(e) => Err(self.queue_error(
                    format!("deleting message {} from queue `{queue}`", message.id),
                    e,
                )),
            }
        })
        .await
    }

    /// Hides a received message for `visibility` from now (0 makes it visible again at once)
    /// and updates its pop receipt, which the next delete or update needs.
    pub async fn set_visibility(
        &self,
        queue: &str,
        message: &mut Received,
        visibility: Duration,
    ) -> Result<()> {
        self.observe(Operation::UpdateMessage, async {
            let response = self
                .queue(queue)?
                .update_message(&message.id, &message.pop_receipt, seconds(visibility), None)
                .await
                .map_err(|e| {
                    self.queue_error(
                        format!(
                            "updating the visibility of message {} in `{queue}`",
                            message.id
                        ),
                        e,
                    )
                })?;
            if let Some(receipt) = response.headers().get_optional_str(&POP_RECEIPT) {
                message.pop_receipt = receipt.to_string();
            }
            Ok(())
        })
        .await
    }
}

fn seconds(d: Duration) -> i32 {
    i32::try_from(d.as_secs()).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_round_trip_through_base64() {
        let text = r#"{"runId":"r","item":1}"#;
        assert_eq!(encode(text), "eyJydW5JZCI6InIiLCJpdGVtIjoxfQ==");
        assert_eq!(decode(&encode(text)), text);
    }

    #[test]
    fn plain_json_and_garbage_pass_through() {
        assert_eq!(decode(r#" {"a":1} "#), r#"{"a":1}"#);
        assert_eq!(decode("not base64 at all!"), "not base64 at all!");
    }
}
