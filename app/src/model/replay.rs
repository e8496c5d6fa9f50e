//! What the replay's banner and controls say, from the replay's state and the newest sample.

use protocol::recording::ReplayStatus;
use protocol::timestamp::rfc3339;

use crate::model::format;

/// "Replay of 3f2a9c1e recorded 2026-12-01 19:04 UTC on the local model (seed-demo profile)".
pub fn banner(replay: &ReplayStatus) -> String {
    let stamp = rfc3339(replay.recorded_ms);
    // `YYYY-MM-DDTHH:MM:SS.mmmZ` → `YYYY-MM-DD HH:MM UTC`.
    let when = match (stamp.get(..10), stamp.get(11..16)) {
        (Some(day), Some(time)) => format!("{day} {time} UTC"),
        _ => stamp.clone(),
    };
    format!(
        "Replay of {} recorded {when} on {}",
        format::short_id(&replay.run_id),
        replay.place
    )
}

/// Milliseconds from the recording's first sample to the newest one shown (`latest_ms`),
/// within the recording's length.
pub fn position_ms(replay: &ReplayStatus, latest_ms: Option<u64>) -> u64 {
    let length = length_ms(replay);
    latest_ms
        .map_or(0, |t| t.saturating_sub(replay.start_ms))
        .min(length)
}

/// The recording's length in milliseconds.
pub fn length_ms(replay: &ReplayStatus) -> u64 {
    replay.end_ms.saturating_sub(replay.start_ms)
}

/// `1 min 05 s / 4 min 10 s`.
pub fn progress_label(replay: &ReplayStatus, latest_ms: Option<u64>) -> String {
    format!(
        "{} / {}",
        format::duration(position_ms(replay, latest_ms)),
        format::duration(length_ms(replay))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replay() -> ReplayStatus {
        ReplayStatus {
            run_id: "3f2a9c1e5d7b4a8f9e0c1d2b3a4f5e6d".into(),
            // 2026-12-01T19:04:05Z
            recorded_ms: 1_796_151_845_000,
            place: "the local model (seed-demo profile)".into(),
            start_ms: 10_000,
            end_ms: 250_000,
            speed: 1,
            paused: false,
        }
    }

    #[test]
    fn the_banner_names_the_run_the_date_and_the_place() {
        let text = banner(&replay());
        assert!(text.starts_with("Replay of 3f2a9c1e recorded "), "{text}");
        assert!(text.contains(&rfc3339(1_796_151_845_000)[..10]), "{text}");
        assert!(
            text.ends_with(" UTC on the local model (seed-demo profile)"),
            "{text}"
        );
    }

    #[test]
    fn the_position_stays_within_the_recording() {
        let replay = replay();
        assert_eq!(position_ms(&replay, None), 0);
        assert_eq!(position_ms(&replay, Some(5_000)), 0);
        assert_eq!(position_ms(&replay, Some(75_000)), 65_000);
        assert_eq!(position_ms(&replay, Some(999_000)), 240_000);
        assert_eq!(
            progress_label(&replay, Some(75_000)),
            "1 min 05 s / 4 min 00 s"
        );
    }
}
