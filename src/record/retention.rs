//! Retention by disk budget, pure: how many bytes must go, and which
//! segments go first.
//!
//! Policy: the oldest `regul` segments first, across cameras; `alarm`
//! segments only when no `regul` segment is left to delete, so that events
//! outlive continuous footage; never the newest segment of a stream (the
//! one being written is always its stream's newest: times never go back).

use crate::store::Kind;

/// Free space kept on the store's filesystem, in percent of its size.
pub const MIN_FREE_PERCENT: u64 = 5;

/// One segment as retention sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// Camera id.
    pub camera: u32,
    /// Recording kind.
    pub kind: Kind,
    /// Start time, µs since the Unix epoch.
    pub start_us: i64,
    /// Bytes of its two files.
    pub bytes: u64,
    /// The newest segment of its stream: never deleted.
    pub newest: bool,
}

/// Bytes to delete: what the root holds over `retain_bytes`, or what the
/// filesystem lacks to keep [`MIN_FREE_PERCENT`] free, whichever is more.
pub fn bytes_to_free(
    used_bytes: u64,
    retain_bytes: Option<u64>,
    fs_size_bytes: u64,
    fs_free_bytes: u64,
) -> u64 {
    let over_budget = retain_bytes.map_or(0, |b| used_bytes.saturating_sub(b));
    let floor = fs_size_bytes / 100 * MIN_FREE_PERCENT;
    over_budget.max(floor.saturating_sub(fs_free_bytes))
}

/// Indices of `candidates` to delete, in deletion order, freeing at least
/// `need_bytes` if the deletable segments hold that much.
pub fn choose(candidates: &[Candidate], need_bytes: u64) -> Vec<usize> {
    if need_bytes == 0 {
        return Vec::new();
    }
    let mut order: Vec<usize> = (0..candidates.len())
        .filter(|&i| candidates.get(i).is_some_and(|c| !c.newest))
        .collect();
    order.sort_by_key(|&i| {
        candidates
            .get(i)
            .map(|c| (c.kind == Kind::Alarm, c.start_us, c.camera))
    });
    let mut freed = 0u64;
    let mut out = Vec::new();
    for i in order {
        if freed >= need_bytes {
            break;
        }
        freed = freed.saturating_add(candidates.get(i).map_or(0, |c| c.bytes));
        out.push(i);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(camera: u32, kind: Kind, start_s: i64, newest: bool) -> Candidate {
        Candidate {
            camera,
            kind,
            start_us: start_s * 1_000_000,
            bytes: 100,
            newest,
        }
    }

    #[test]
    fn budget_and_free_space_floor() {
        assert_eq!(bytes_to_free(1000, Some(800), 10_000, 5_000), 200);
        assert_eq!(bytes_to_free(1000, Some(2000), 10_000, 5_000), 0);
        // Default: keep 5 % free (500 of 10 000).
        assert_eq!(bytes_to_free(1000, None, 10_000, 300), 200);
        assert_eq!(bytes_to_free(1000, Some(900), 10_000, 300), 200);
        assert_eq!(bytes_to_free(1000, Some(500), 10_000, 300), 500);
    }

    #[test]
    fn oldest_regul_across_cameras_then_alarm_never_the_newest() {
        let all = [
            c(1, Kind::Regul, 10, false), // 0
            c(2, Kind::Regul, 5, false),  // 1
            c(1, Kind::Alarm, 1, false),  // 2: oldest of all, but an alarm
            c(1, Kind::Regul, 20, true),  // 3: being written
            c(2, Kind::Regul, 15, false), // 4
            c(2, Kind::Regul, 25, true),  // 5
            c(2, Kind::Alarm, 3, true),   // 6
        ];
        assert_eq!(choose(&all, 0), Vec::<usize>::new());
        assert_eq!(choose(&all, 150), [1, 0]);
        assert_eq!(choose(&all, 300), [1, 0, 4]);
        // Alarms only once no regul is left; the newest never.
        assert_eq!(choose(&all, 10_000), [1, 0, 4, 2]);
    }
}
