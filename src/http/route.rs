//! Which endpoint a request path and query name, with its parameters
//! checked: a typed [`Route`] or a 400/404 with a reason. Pure.

use crate::store::Kind;
use crate::utc::parse_unix_seconds;

use super::request::query_param;

/// An endpoint with its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `GET /`: the timeline page.
    Index,
    /// `GET /api/cameras`.
    Cameras,
    /// `GET /api/recordings?camera=3&kind=regul[&start=UNIX&stop=UNIX]`.
    Recordings {
        /// Camera id.
        camera: u32,
        /// Kind.
        kind: Kind,
        /// Window start, µs (none: from the first recording).
        start_us: Option<i64>,
        /// Window end, µs (none: to the last).
        stop_us: Option<i64>,
    },
    /// `GET /export/<kind>/<camera>.mp4?start=UNIX&stop=UNIX`.
    Export {
        /// Camera id.
        camera: u32,
        /// Kind.
        kind: Kind,
        /// Window start, µs.
        start_us: i64,
        /// Window end, µs.
        stop_us: i64,
    },
    /// `GET /metrics`.
    Metrics,
}

impl Route {
    /// The camera the request is about, if any (per-user access).
    pub fn camera(&self) -> Option<u32> {
        match *self {
            Route::Recordings { camera, .. } | Route::Export { camera, .. } => Some(camera),
            Route::Index | Route::Cameras | Route::Metrics => None,
        }
    }
}

/// Why a path or query was refused: status and reason (the body).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// 400 or 404.
    pub status: u16,
    /// Why, for the client.
    pub reason: &'static str,
}

const fn bad(reason: &'static str) -> Refusal {
    Refusal {
        status: 400,
        reason,
    }
}

/// Routes a request path and query.
pub fn route(path: &str, query: &str) -> Result<Route, Refusal> {
    match path {
        "/" | "/index.html" => return Ok(Route::Index),
        "/api/cameras" => return Ok(Route::Cameras),
        "/metrics" => return Ok(Route::Metrics),
        "/api/recordings" => {
            let camera = camera_param(query_param(query, "camera"))?;
            let kind = query_param(query, "kind")
                .ok_or(bad("kind= is required (regul or alarm)"))
                .and_then(|k| Kind::from_name(k).ok_or(bad("kind must be regul or alarm")))?;
            let (start_us, stop_us) = (time_param(query, "start")?, time_param(query, "stop")?);
            if let (Some(a), Some(b)) = (start_us, stop_us)
                && b <= a
            {
                return Err(bad("stop must be after start"));
            }
            return Ok(Route::Recordings {
                camera,
                kind,
                start_us,
                stop_us,
            });
        }
        _ => {}
    }
    let Some(rest) = path.strip_prefix("/export/") else {
        return Err(Refusal {
            status: 404,
            reason: "no such page: see / , /api/cameras, /api/recordings, /export, /metrics",
        });
    };
    let (kind, file) = rest
        .split_once('/')
        .ok_or(bad("expected /export/<regul|alarm>/<camera>.mp4"))?;
    let kind = Kind::from_name(kind).ok_or(Refusal {
        status: 404,
        reason: "no such kind: expected /export/<regul|alarm>/<camera>.mp4",
    })?;
    let id = file
        .strip_suffix(".mp4")
        .ok_or(bad("expected /export/<regul|alarm>/<camera>.mp4"))?;
    let camera = camera_param(Some(id))?;
    let start_us = time_param(query, "start")?.ok_or(bad("start= is required (Unix seconds)"))?;
    let stop_us = time_param(query, "stop")?.ok_or(bad("stop= is required (Unix seconds)"))?;
    if stop_us <= start_us {
        return Err(bad("stop must be after start"));
    }
    Ok(Route::Export {
        camera,
        kind,
        start_us,
        stop_us,
    })
}

fn camera_param(v: Option<&str>) -> Result<u32, Refusal> {
    let v = v.ok_or(bad("camera= is required"))?;
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("the camera id must be a decimal number"));
    }
    v.parse().map_err(|_| bad("the camera id is out of range"))
}

fn time_param(query: &str, name: &str) -> Result<Option<i64>, Refusal> {
    match query_param(query, name) {
        None => Ok(None),
        Some(v) => parse_unix_seconds(v).map(Some).ok_or(bad(
            "start= and stop= are Unix seconds (UTC), e.g. 1709215200 or 1709215200.5",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_parameters() {
        assert_eq!(route("/", ""), Ok(Route::Index));
        assert_eq!(route("/api/cameras", "x=1"), Ok(Route::Cameras));
        assert_eq!(route("/metrics", ""), Ok(Route::Metrics));
        assert_eq!(
            route("/api/recordings", "camera=3&kind=alarm&start=10.5"),
            Ok(Route::Recordings {
                camera: 3,
                kind: Kind::Alarm,
                start_us: Some(10_500_000),
                stop_us: None
            })
        );
        assert_eq!(
            route("/export/regul/3.mp4", "start=1709215200&stop=1709215203"),
            Ok(Route::Export {
                camera: 3,
                kind: Kind::Regul,
                start_us: 1_709_215_200_000_000,
                stop_us: 1_709_215_203_000_000
            })
        );
    }

    #[test]
    fn refusals_say_why() {
        let status = |p, q| route(p, q).map_err(|r| r.status);
        assert_eq!(status("/nope", ""), Err(404));
        assert_eq!(status("/export/other/3.mp4", "start=1&stop=2"), Err(404));
        assert_eq!(status("/export/regul/3.mkv", "start=1&stop=2"), Err(400));
        assert_eq!(status("/export/regul/x.mp4", "start=1&stop=2"), Err(400));
        assert_eq!(
            status("/export/regul/99999999999.mp4", "start=1&stop=2"),
            Err(400)
        );
        assert_eq!(status("/export/regul/3.mp4", "start=1"), Err(400));
        assert_eq!(status("/export/regul/3.mp4", "start=2&stop=1"), Err(400));
        assert_eq!(status("/export/regul/3.mp4", "start=abc&stop=1"), Err(400));
        assert_eq!(status("/export/regul", ""), Err(400));
        assert_eq!(status("/api/recordings", "kind=regul"), Err(400));
        assert_eq!(status("/api/recordings", "camera=3&kind=x"), Err(400));
        assert_eq!(
            status("/api/recordings", "camera=3&kind=regul&start=5&stop=5"),
            Err(400)
        );
    }
}
