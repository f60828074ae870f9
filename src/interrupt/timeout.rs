//! The time limit of a run (`--timeout`, `build.timeout`): a watchdog thread that, when
//! the limit runs out, stops every registered process group, removes every registered
//! directory, names the stage the run was in and exits 2; and the notation of durations
//! the limits are written in (`90s`, `1h30m`).

use std::sync::atomic::Ordering;
use std::sync::Mutex;

use anyhow::{Context, Result};

use super::{cleanup, registry, SIGNAL};

/// What the run is doing, for the message of a time limit that runs out.
static STAGE: Mutex<String> = Mutex::new(String::new());

/// Records what the run is doing now (`building head 1a2b3c4`), which a time limit
/// that runs out names.
pub fn set_stage(what: &str) {
    let mut stage = STAGE.lock().unwrap_or_else(|p| p.into_inner());
    stage.clear();
    stage.push_str(what);
}

/// When the process started, for time limits (set by [`install`](super::install)).
pub(super) static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// The time limit in force: how long the whole run may take, and what set it.
struct Limit {
    after: std::time::Duration,
    source: String,
}

static LIMIT: Mutex<Option<Limit>> = Mutex::new(None);
static LIMIT_CHANGED: std::sync::Condvar = std::sync::Condvar::new();

/// Limits the whole run (counted from the start of the process) to `after`, unless a
/// shorter limit is already in force: the smallest limit wins. `source` says where it
/// comes from (`--timeout 90s`), for the message. When it runs out, every `go` is
/// stopped, the temporary trees are removed and the process exits 2, naming the stage.
pub fn limit_time(after: std::time::Duration, source: &str) -> Result<()> {
    let started = *STARTED.get_or_init(std::time::Instant::now);
    let mut limit = LIMIT.lock().unwrap_or_else(|p| p.into_inner());
    let first = limit.is_none();
    if limit.as_ref().is_some_and(|l| l.after <= after) {
        return Ok(());
    }
    *limit = Some(Limit {
        after,
        source: source.to_string(),
    });
    drop(limit);
    LIMIT_CHANGED.notify_all();
    if first {
        std::thread::Builder::new()
            .name("escape-gate-timeout".into())
            .spawn(move || watch(started))
            .context("starting the time limit's thread")?;
    }
    Ok(())
}

/// Waits for the time limit in force to run out, then ends the run.
fn watch(started: std::time::Instant) {
    let mut limit = LIMIT.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let Some(after) = limit.as_ref().map(|l| l.after) else {
            return;
        };
        let elapsed = started.elapsed();
        if elapsed >= after {
            break;
        }
        limit = LIMIT_CHANGED
            .wait_timeout(limit, after - elapsed)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
    let (after, source) = limit
        .as_ref()
        .map(|l| (l.after, l.source.clone()))
        .unwrap_or_default();
    // From here on, errors the main thread sees are this stop's doing.
    SIGNAL.store(TIMED_OUT, Ordering::SeqCst);
    let stage = STAGE.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let stage = if stage.is_empty() {
        "starting".to_string()
    } else {
        stage
    };
    // Kept locked until the process exits, as the signal thread does.
    let mut reg = registry();
    cleanup(&mut reg);
    // A progress line may be on the terminal: the message starts on a clean one.
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        eprint!("\r\x1b[2K");
    }
    eprintln!(
        "error: the time limit of {} ({source}) ran out while {stage}; the builds were \
         stopped and the temporary trees removed\n\
         hint: allow more time (--timeout, or timeout: in the build section of \
         .escape-gate.yml), or analyse less at a time (build.packages, --shard)",
        describe_duration(after)
    );
    std::process::exit(2);
}

/// `SIGNAL`'s value when the time limit ended the run.
const TIMED_OUT: i32 = -1;

/// `90s`, `10m`, `1h30m`, `250ms`: a duration as `--timeout` takes it.
pub fn describe_duration(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 != 0 || ms == 0 {
        return format!("{ms}ms");
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    for (n, unit) in [(h, "h"), (m, "m"), (s, "s")] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    out
}

/// Parses a duration: a number and a unit, `ms`, `s`, `m` or `h`, repeated (`90s`,
/// `10m`, `1h30m`, `500ms`). Zero is refused: a limit must leave time to run.
pub fn parse_duration(text: &str) -> std::result::Result<std::time::Duration, String> {
    let bad = || {
        format!(
            "{text:?} is not a duration: write a number and a unit, ms, s, m or h (90s, 10m, 1h30m)"
        )
    };
    let mut total: u128 = 0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 12 {
            return Err(bad());
        }
        let n: u128 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let ms_per = match &rest[..unit] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => return Err(bad()),
        };
        rest = &rest[unit..];
        total += n * ms_per;
    }
    if total == 0 {
        return Err(format!("{text:?}: a time limit must be longer than zero"));
    }
    // A week is a limit no run reaches; longer ones are kept at that.
    let total = total.min(7 * 24 * 3_600_000);
    Ok(std::time::Duration::from_millis(total as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations_parse_and_print_as_written() {
        let ok = [
            ("90s", 90_000, "1m30s"),
            ("10m", 600_000, "10m"),
            ("1h30m", 5_400_000, "1h30m"),
            ("250ms", 250, "250ms"),
            ("1ms", 1, "1ms"),
            ("2h", 7_200_000, "2h"),
        ];
        for (text, ms, shown) in ok {
            let d = parse_duration(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(d, Duration::from_millis(ms), "{text}");
            assert_eq!(describe_duration(d), shown, "{text}");
        }
        for bad in [
            "",
            "90",
            "s",
            "1d",
            "-1s",
            "1.5s",
            "0s",
            "9999999999999s",
            "1 m",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} parsed");
        }
    }
}
