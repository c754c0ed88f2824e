//! The control socket's protocol, pure: one request line from
//! `ctrtspd alarm`, one answer line from the recorder.
//!
//! ```text
//! → alarm 3 20
//! ← ok camera 3: alarm clip until 2026-03-01 14:00:20.000 UTC
//! → alarm 9
//! ← error unknown camera 9
//! ```

/// Longest request line accepted.
pub const MAX_REQUEST_BYTES: usize = 128;

/// A request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// Trigger an alarm clip of `camera`; `seconds` after the trigger, or
    /// the camera's `alarm_post_s`.
    Alarm {
        /// Camera id.
        camera: u32,
        /// Post-roll override, seconds.
        seconds: Option<u32>,
    },
}

impl Request {
    /// The request line, newline included.
    pub fn to_line(&self) -> String {
        match self {
            Request::Alarm {
                camera,
                seconds: Some(s),
            } => format!("alarm {camera} {s}\n"),
            Request::Alarm {
                camera,
                seconds: None,
            } => format!("alarm {camera}\n"),
        }
    }
}

/// Parses a request line (without its newline).
///
/// # Errors
///
/// What is wrong with it, to send back.
pub fn parse_request(line: &str) -> Result<Request, &'static str> {
    let mut words = line.split_ascii_whitespace();
    match words.next() {
        Some("alarm") => {}
        _ => return Err("unknown request (expected: alarm <camera> [<seconds>])"),
    }
    let camera = words
        .next()
        .and_then(|w| w.parse().ok())
        .ok_or("alarm: bad or missing camera id")?;
    let seconds = match words.next() {
        None => None,
        Some(w) => Some(
            w.parse::<u32>()
                .ok()
                .filter(|s| *s <= super::config::MAX_ALARM_POST_S)
                .ok_or("alarm: seconds must be a number from 0 to 3600")?,
        ),
    };
    if words.next().is_some() {
        return Err("alarm: too many words");
    }
    Ok(Request::Alarm { camera, seconds })
}

/// The answer: `Ok(text)` → `ok text`, `Err(text)` → `error text`.
pub fn answer_line(result: Result<&str, &str>) -> String {
    match result {
        Ok(t) => format!("ok {t}\n"),
        Err(t) => format!("error {t}\n"),
    }
}

/// Parses an answer line: `Ok(text)` for `ok`, `Err(text)` otherwise.
pub fn parse_answer(line: &str) -> Result<&str, &str> {
    let line = line.trim_end();
    match line.split_once(' ') {
        Some(("ok", t)) => Ok(t),
        Some(("error", t)) => Err(t),
        _ if line == "ok" => Ok(""),
        _ => Err(line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_answers_round_trip() {
        for r in [
            Request::Alarm {
                camera: 3,
                seconds: Some(20),
            },
            Request::Alarm {
                camera: 999_999_999,
                seconds: None,
            },
        ] {
            let line = r.to_line();
            assert_eq!(parse_request(line.trim_end()), Ok(r));
        }
        assert_eq!(
            parse_answer(&answer_line(Ok("camera 3: clip"))),
            Ok("camera 3: clip")
        );
        assert_eq!(
            parse_answer(&answer_line(Err("unknown camera 9"))),
            Err("unknown camera 9")
        );
        assert_eq!(parse_answer("garbage"), Err("garbage"));
    }

    #[test]
    fn bad_requests_say_why() {
        for bad in [
            "",
            "alarm",
            "alarm x",
            "alarm 3 -1",
            "alarm 3 4000",
            "alarm 3 1 2",
            "reboot",
        ] {
            assert!(parse_request(bad).is_err(), "{bad}");
        }
    }
}
