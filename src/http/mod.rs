//! The operator surface over HTTP/1.1, on the server's executor:
//!
//! | path                                   | what                                    |
//! |----------------------------------------|-----------------------------------------|
//! | `GET /`                                | the timeline page ([`page`])            |
//! | `GET /api/cameras`                     | cameras, kinds, codec, size, first/last |
//! | `GET /api/recordings?camera&kind[&start&stop]` | recorded ranges and gaps        |
//! | `GET /export/<regul\|alarm>/<id>.mp4?start&stop` | MP4 with byte ranges (206/416) |
//! | `GET /metrics`                         | Prometheus text                         |
//!
//! Everything here is pure but for reading the store's index: [`request`]
//! parses a head with `httparse`, [`route`] names the endpoint, [`range`]
//! resolves `Range`, [`api`] writes the JSON, [`handle`] makes the
//! [`Response`]. The sockets are in `server::http`.

pub mod api;
pub mod page;
pub mod range;
pub mod request;
pub mod response;
pub mod route;

use std::rc::Rc;

pub use request::{Method, ParseError, Request};
pub use response::{Body, Response};
pub use route::Route;

use crate::auth::Auth;
use crate::mp4::{Clip, ExportError};
use crate::store::{Catalog, Kind};
use crate::utc::UnixSeconds;

/// An export's window: camera, kind, start and stop (µs).
pub type ExportKey = (u32, Kind, i64, i64);

/// An export laid out, or why it could not be (status, reason).
pub type ClipResult = Result<Rc<Clip>, (u16, String)>;

/// The last export laid out on a connection: a player asks for many
/// ranges of the same file, and laying it out again would walk the index
/// again each time.
pub type ClipCache = Option<(ExportKey, ClipResult)>;

/// What [`handle`] made of a request.
#[derive(Debug)]
pub enum Handled {
    /// The response to send.
    Answer(Response, Outcome),
    /// The export `ExportKey` must be laid out first (a bounded number of
    /// index records at a time, see [`crate::mp4::ClipBuilder`]) and put
    /// in the cache; then the request is handled again.
    NeedClip(ExportKey),
}

/// The cache entry for a layout's result: errors become their status
/// and reason (400 window, 404 nothing recorded, 500 otherwise).
pub fn clip_result(key: ExportKey, r: Result<Clip, ExportError>) -> ClipResult {
    match r {
        Ok(c) => Ok(Rc::new(c)),
        Err(e @ (ExportError::BadWindow | ExportError::TooManyFrames)) => Err((400, e.to_string())),
        Err(e @ ExportError::NothingRecorded) => Err((404, e.to_string())),
        Err(e) => {
            log::error!("http: export camera {} {}: {e}", key.0, key.1);
            Err((500, e.to_string()))
        }
    }
}

/// What a request is handled with.
pub struct Context<'a> {
    /// The store.
    pub catalog: &'a mut Catalog,
    /// Authentication (`None`: open).
    pub auth: Option<&'a Auth>,
    /// Port of the RTSP server, for the page's RTSP URLs.
    pub rtsp_port: u16,
    /// Now, µs since the epoch (nonces).
    pub now_unix_us: i64,
    /// The connection's peer (nonces are bound to it).
    pub peer: std::net::SocketAddr,
    /// The connection's last export.
    pub clip_cache: &'a mut ClipCache,
}

/// What became of a request, for the metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Answered (any status but 401).
    Answered,
    /// Refused for want of valid credentials (401), other than a
    /// first request that sent none.
    AuthFailed,
}

/// Answers a parsed request. `metrics` writes the `/metrics` body.
pub fn handle(
    ctx: &mut Context<'_>,
    req: &Request<'_>,
    metrics: impl FnOnce(&mut Catalog) -> String,
) -> Handled {
    match answer(ctx, req, metrics) {
        Ok((r, o)) => Handled::Answer(r, o),
        Err(key) => Handled::NeedClip(key),
    }
}

fn answer(
    ctx: &mut Context<'_>,
    req: &Request<'_>,
    metrics: impl FnOnce(&mut Catalog) -> String,
) -> Result<(Response, Outcome), ExportKey> {
    if req.method == Method::Other {
        let r =
            Response::text(405, "only GET and HEAD are served").with("Allow", "GET, HEAD".into());
        return Ok((r, Outcome::Answered));
    }
    let user = match ctx.auth {
        None => None,
        Some(auth) => match auth.check(
            req.method_name,
            req.target,
            req.authorization,
            ctx.now_unix_us,
            ctx.peer,
        ) {
            Ok(u) => Some(u),
            Err(denied) => {
                let mut r = Response::text(401, "authentication required");
                for v in auth
                    .challenge(ctx.now_unix_us, ctx.peer, denied.is_stale())
                    .values()
                {
                    r = r.with("WWW-Authenticate", v.to_string());
                }
                let outcome = if matches!(denied, crate::auth::Denied::NoCredentials) {
                    Outcome::Answered
                } else {
                    log::info!("http: {}: {denied}", req.path);
                    Outcome::AuthFailed
                };
                return Ok((r, outcome));
            }
        },
    };
    let may_view = |camera: u32| user.is_none_or(|u| u.may_view(camera));
    let route = match route::route(req.path, req.query) {
        Ok(r) => r,
        Err(refusal) => {
            return Ok((
                Response::text(refusal.status, refusal.reason),
                Outcome::Answered,
            ));
        }
    };
    if let Some(camera) = route.camera()
        && !may_view(camera)
    {
        let r = Response::text(403, "this user may not view this camera");
        return Ok((r, Outcome::Answered));
    }
    let response = match route {
        Route::Index => Response::new(
            200,
            "text/html; charset=utf-8",
            Body::Static(page::INDEX_HTML),
        ),
        Route::Metrics => Response::new(
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            Body::Bytes(metrics(ctx.catalog).into_bytes()),
        ),
        Route::Cameras => json(api::cameras_json(ctx.catalog, may_view, ctx.rtsp_port)),
        Route::Recordings {
            camera,
            kind,
            start_us,
            stop_us,
        } => json(api::recordings_json(
            ctx.catalog,
            camera,
            kind,
            start_us,
            stop_us,
        )),
        Route::Export {
            camera,
            kind,
            start_us,
            stop_us,
        } => export(ctx, req, (camera, kind, start_us, stop_us))?,
    };
    Ok((response, Outcome::Answered))
}

fn json(body: Result<String, crate::store::StoreError>) -> Response {
    match body {
        Ok(b) => Response::new(200, "application/json", Body::Bytes(b.into_bytes())),
        Err(e) => {
            log::error!("http: {e}");
            Response::text(500, "the store could not be read")
        }
    }
}

/// `20240229T140000Z`: a time in a file name.
fn compact_utc(us: i64) -> String {
    crate::utc::Rfc3339(us)
        .to_string()
        .chars()
        .take(19)
        .filter(|c| *c != '-' && *c != ':')
        .collect::<String>()
        + "Z"
}

fn export(ctx: &mut Context<'_>, req: &Request<'_>, key: ExportKey) -> Result<Response, ExportKey> {
    match ctx.clip_cache {
        Some((k, result)) if *k == key => Ok(export_response(req, key, result)),
        _ => Err(key),
    }
}

/// The response to an export request whose layout is `result` (for the
/// request that asked for it with [`Handled::NeedClip`], whose
/// credentials were checked then: a second check would count as a
/// replayed nonce).
pub fn export_response(req: &Request<'_>, key: ExportKey, result: &ClipResult) -> Response {
    let (camera, kind, ..) = key;
    let clip = match result {
        Ok(clip) => Rc::clone(clip),
        Err((status, reason)) => return Response::text(*status, reason),
    };
    let len = clip.len_bytes();
    let name = format!(
        "camera{camera}-{kind}-{}-{}.mp4",
        compact_utc(clip.first_us),
        compact_utc(clip.end_us)
    );
    let (status, range) = match range::resolve(req.range, len) {
        range::RangeReply::Full => (200, 0..len),
        range::RangeReply::Partial { start, end } => (206, start..end),
        range::RangeReply::Unsatisfiable => {
            return Response::text(416, "the range selects no byte of the file")
                .with("Content-Range", format!("bytes */{len}"))
                .with("Accept-Ranges", "bytes".into());
        }
    };
    let mut r = Response::new(
        status,
        "video/mp4",
        Body::Clip(Rc::clone(&clip), range.clone()),
    )
    .with("Accept-Ranges", "bytes".into())
    .with(
        "Content-Disposition",
        format!("inline; filename=\"{name}\""),
    )
    .with(
        "X-Ctrtspd-First-Frame",
        UnixSeconds(clip.first_us).to_string(),
    )
    .with("X-Ctrtspd-Gaps-Closed", clip.gaps.to_string());
    if status == 206 {
        r = r.with(
            "Content-Range",
            format!(
                "bytes {}-{}/{len}",
                range.start,
                range.end.saturating_sub(1)
            ),
        );
    }
    r
}
