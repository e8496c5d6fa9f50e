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

/// Where the seek bar stands: the position last sought (`sought`) while the newest sample shown
/// is the one at or just before it, else the newest sample's position. Samples are about
/// `interval_ms` apart and rarely fall on a whole second, so showing the sample's position after
/// a seek would put the bar back behind where it was moved to, and an arrow key would move it
/// to the same place again.
pub fn seek_value_ms(
    replay: &ReplayStatus,
    latest_ms: Option<u64>,
    sought: Option<u64>,
    interval_ms: u64,
) -> u64 {
    let shown = position_ms(replay, latest_ms);
    match sought {
        Some(sought) if sought >= shown && sought - shown <= interval_ms.max(1000) * 2 => {
            sought.min(length_ms(replay))
        }
        _ => shown,
    }
}

/// What the seek bar says its value is: `1 min 05 s of 4 min 00 s`.
pub fn seek_value_text(replay: &ReplayStatus, value_ms: u64) -> String {
    format!(
        "{} of {}",
        format::duration(value_ms),
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

    #[test]
    fn the_seek_bar_stays_where_it_was_moved_until_the_replay_moves_past_it() {
        let replay = replay();
        // Sought to 20 s; the sample shown is at 19.4 s: the bar shows 20 s.
        assert_eq!(
            seek_value_ms(&replay, Some(29_400), Some(20_000), 1000),
            20_000
        );
        // Played on past it: the sample's position.
        assert_eq!(
            seek_value_ms(&replay, Some(31_000), Some(20_000), 1000),
            21_000
        );
        // Someone else sought far away: the sample's position.
        assert_eq!(
            seek_value_ms(&replay, Some(100_000), Some(20_000), 1000),
            90_000
        );
        assert_eq!(
            seek_value_ms(&replay, Some(12_000), Some(20_000), 1000),
            2_000
        );
        // Never sought, or beyond the end: within the recording.
        assert_eq!(seek_value_ms(&replay, Some(29_400), None, 1000), 19_400);
        assert_eq!(
            seek_value_ms(&replay, Some(250_000), Some(241_000), 1000),
            240_000
        );
        assert_eq!(seek_value_text(&replay, 65_000), "1 min 05 s of 4 min 00 s");
    }
}
