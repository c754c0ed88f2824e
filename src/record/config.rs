//! The recorder's configuration file (TOML), parsed strictly: a key we do
//! not know, a duplicate camera, a camera id the player URLs cannot name or
//! a camera URL we cannot use is an error that says on which line and what
//! is wrong, so that a typo never silently records nothing.
//!
//! ```toml
//! root = "/mnt/hdd/recordings"
//! retain_bytes = 900000000000   # optional: default keeps 5 % of the fs free
//! control = "/run/ctrtspd/record.sock"
//! segment_s = 60
//!
//! [[camera]]
//! id = 3
//! url = "rtsp://192.0.2.13:554/Streaming/Channels/101"
//! user = "admin"
//! password = "secret"
//! transport = "tcp"             # tcp | udp
//! alarm_pre_s = 5
//! alarm_post_s = 20
//! ```

use std::path::PathBuf;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::url::CameraUrl;

/// Default path of the control socket `ctrtspd alarm` talks to.
pub const DEFAULT_CONTROL: &str = "/run/ctrtspd/record.sock";
/// Default segment length, seconds.
pub const DEFAULT_SEGMENT_S: u32 = 60;
/// Default alarm pre-roll, seconds.
pub const DEFAULT_ALARM_PRE_S: u32 = 5;
/// Default alarm post-roll, seconds.
pub const DEFAULT_ALARM_POST_S: u32 = 20;
/// Longest segment accepted, seconds.
pub const MAX_SEGMENT_S: u32 = 3600;
/// Longest pre-roll accepted, seconds: the pre-roll is held in memory.
pub const MAX_ALARM_PRE_S: u32 = 60;
/// Longest post-roll accepted, seconds.
pub const MAX_ALARM_POST_S: u32 = 3600;

/// How the camera's media is carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Interleaved in the RTSP TCP connection.
    Tcp,
    /// RTP/AVP over UDP.
    Udp,
}

/// One `[[camera]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraConfig {
    /// The camera id of the `/player/<kind>/<id>` URLs.
    pub id: u32,
    /// Where to pull from; credentials from `user`/`password` take
    /// precedence over those in the URL.
    pub url: CameraUrl,
    /// TCP interleaved or UDP.
    pub transport: Transport,
    /// Seconds of video kept before an alarm.
    pub alarm_pre_s: u32,
    /// Seconds recorded after the last alarm trigger.
    pub alarm_post_s: u32,
}

/// The whole file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Store root (what `serve --root` reads).
    pub root: PathBuf,
    /// Disk budget for the whole root; `None`: keep 5 % of the fs free.
    pub retain_bytes: Option<u64>,
    /// Unix socket of `ctrtspd alarm`.
    pub control: PathBuf,
    /// Rotate at the first keyframe after this many seconds.
    pub segment_s: u32,
    /// The cameras, in file order.
    pub cameras: Vec<CameraConfig>,
}

impl Config {
    /// The camera with id `id`.
    pub fn camera(&self, id: u32) -> Option<&CameraConfig> {
        self.cameras.iter().find(|c| c.id == id)
    }
}

/// Why a configuration file was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// 1-based line of the fault (0: the file as a whole).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.line == 0 {
            f.write_str(&self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// 1-based line of byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    1 + text
        .as_bytes()
        .get(..end)
        .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
}

/// Parses and checks a configuration file.
///
/// # Errors
///
/// [`ConfigError`] with the line and the fault.
pub fn parse_config(text: &str) -> Result<Config, ConfigError> {
    let doc = DeTable::parse(text).map_err(|e| ConfigError {
        line: e.span().map_or(0, |s| line_of(text, s.start)),
        message: e.message().trim_end().to_string(),
    })?;
    let p = Parser { text };
    p.config(doc.get_ref())
}

struct Parser<'t> {
    text: &'t str,
}

type Value<'i> = Spanned<DeValue<'i>>;

impl Parser<'_> {
    fn err<T>(&self, at: core::ops::Range<usize>, message: String) -> Result<T, ConfigError> {
        Err(ConfigError {
            line: line_of(self.text, at.start),
            message,
        })
    }

    fn config(&self, t: &DeTable<'_>) -> Result<Config, ConfigError> {
        let mut root = None;
        let mut retain_bytes = None;
        let mut control = None;
        let mut segment_s = None;
        let mut cameras: Vec<CameraConfig> = Vec::new();
        let mut camera_lines: Vec<usize> = Vec::new();
        for (k, v) in t {
            match k.get_ref().as_ref() {
                "root" => root = Some(PathBuf::from(self.string(k, v)?)),
                "retain_bytes" => {
                    retain_bytes = Some(self.integer(k, v, 1, i64::MAX)?.unsigned_abs());
                }
                "control" => control = Some(PathBuf::from(self.string(k, v)?)),
                "segment_s" => segment_s = Some(self.u32_in(k, v, 1, MAX_SEGMENT_S)?),
                "camera" => {
                    let DeValue::Array(a) = v.get_ref() else {
                        return self.err(
                            k.span(),
                            "camera must be an array of tables: write [[camera]]".into(),
                        );
                    };
                    for item in a.iter() {
                        let DeValue::Table(ct) = item.get_ref() else {
                            return self.err(
                                item.span(),
                                "each camera must be a table ([[camera]])".into(),
                            );
                        };
                        let cam = self.camera(ct, item.span())?;
                        let line = line_of(self.text, item.span().start);
                        if let Some(i) = cameras.iter().position(|c| c.id == cam.id) {
                            return Err(ConfigError {
                                line,
                                message: format!(
                                    "duplicate camera id {} (first on line {})",
                                    cam.id,
                                    camera_lines.get(i).copied().unwrap_or(0)
                                ),
                            });
                        }
                        cameras.push(cam);
                        camera_lines.push(line);
                    }
                }
                other => {
                    return self.err(
                        k.span(),
                        format!(
                            "unknown key {other:?} (known: root, retain_bytes, control, segment_s, [[camera]])"
                        ),
                    );
                }
            }
        }
        let Some(root) = root else {
            return Err(ConfigError {
                line: 0,
                message: "root is missing: the store directory to record into".into(),
            });
        };
        Ok(Config {
            root,
            retain_bytes,
            control: control.unwrap_or_else(|| PathBuf::from(DEFAULT_CONTROL)),
            segment_s: segment_s.unwrap_or(DEFAULT_SEGMENT_S),
            cameras,
        })
    }

    fn camera(
        &self,
        t: &DeTable<'_>,
        span: core::ops::Range<usize>,
    ) -> Result<CameraConfig, ConfigError> {
        let mut id = None;
        let mut url = None;
        let mut user = None;
        let mut password = None;
        let mut transport = Transport::Tcp;
        let mut alarm_pre_s = DEFAULT_ALARM_PRE_S;
        let mut alarm_post_s = DEFAULT_ALARM_POST_S;
        for (k, v) in t {
            match k.get_ref().as_ref() {
                "id" => {
                    let n = self.integer(k, v, 0, i64::from(u32::MAX))?;
                    // The grammar of the player URLs decides what a camera
                    // id is; a camera no URL can name would be recorded for
                    // nobody.
                    let path = format!("/player/regul/{n}");
                    match crate::rtsp::parse_player_url(&path) {
                        Ok(u) => id = Some(u.camera),
                        Err(_) => {
                            return self.err(
                                v.span(),
                                format!("camera id {n} cannot be named in /player/<kind>/<id> URLs (at most 9 digits)"),
                            );
                        }
                    }
                }
                "url" => {
                    let s = self.string(k, v)?;
                    match CameraUrl::parse(s) {
                        Ok(u) => url = Some(u),
                        Err(e) => return self.err(v.span(), format!("url {s:?}: {e}")),
                    }
                }
                "user" => user = Some(self.string(k, v)?.to_string()),
                "password" => password = Some(self.string(k, v)?.to_string()),
                "transport" => {
                    transport = match self.string(k, v)? {
                        "tcp" => Transport::Tcp,
                        "udp" => Transport::Udp,
                        other => {
                            return self.err(
                                v.span(),
                                format!("transport {other:?}: expected \"tcp\" or \"udp\""),
                            );
                        }
                    }
                }
                "alarm_pre_s" => alarm_pre_s = self.u32_in(k, v, 0, MAX_ALARM_PRE_S)?,
                "alarm_post_s" => alarm_post_s = self.u32_in(k, v, 0, MAX_ALARM_POST_S)?,
                other => {
                    return self.err(
                        k.span(),
                        format!(
                            "unknown camera key {other:?} (known: id, url, user, password, transport, alarm_pre_s, alarm_post_s)"
                        ),
                    );
                }
            }
        }
        let Some(id) = id else {
            return self.err(span, "camera without id".into());
        };
        let Some(mut url) = url else {
            return self.err(span, format!("camera {id} has no url"));
        };
        if let Some(u) = user {
            url.user = Some(u);
        }
        if let Some(p) = password {
            url.password = Some(p);
        }
        Ok(CameraConfig {
            id,
            url,
            transport,
            alarm_pre_s,
            alarm_post_s,
        })
    }

    fn string<'a>(
        &self,
        k: &Spanned<std::borrow::Cow<'_, str>>,
        v: &'a Value<'_>,
    ) -> Result<&'a str, ConfigError> {
        match v.get_ref() {
            DeValue::String(s) => Ok(s.as_ref()),
            other => self.err(
                v.span(),
                format!("{} must be a string, not {}", k.get_ref(), other.type_str()),
            ),
        }
    }

    fn integer(
        &self,
        k: &Spanned<std::borrow::Cow<'_, str>>,
        v: &Value<'_>,
        min: i64,
        max: i64,
    ) -> Result<i64, ConfigError> {
        let DeValue::Integer(i) = v.get_ref() else {
            return self.err(
                v.span(),
                format!(
                    "{} must be an integer, not {}",
                    k.get_ref(),
                    v.get_ref().type_str()
                ),
            );
        };
        match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => self.err(
                v.span(),
                format!("{} must be between {min} and {max}", k.get_ref()),
            ),
        }
    }

    fn u32_in(
        &self,
        k: &Spanned<std::borrow::Cow<'_, str>>,
        v: &Value<'_>,
        min: u32,
        max: u32,
    ) -> Result<u32, ConfigError> {
        let n = self.integer(k, v, i64::from(min), i64::from(max))?;
        Ok(u32::try_from(n).unwrap_or(max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
root = "/mnt/hdd/recordings"            # the store `serve --root` reads
retain_bytes = 900000000000
control = "/run/ctrtspd/record.sock"
segment_s = 60

[[camera]]
id = 3
url = "rtsp://192.0.2.13:554/Streaming/Channels/101"
user = "admin"
password = "secret"
transport = "tcp"
alarm_pre_s = 5
alarm_post_s = 20

[[camera]]
id = 4
url = "rtsp://bob:pw%40x@cam4/live"
transport = "udp"
"#;

    fn refused(text: &str) -> ConfigError {
        parse_config(text).expect_err(text)
    }

    #[test]
    fn the_issue_s_example_parses_with_its_defaults() {
        let c = parse_config(EXAMPLE).unwrap();
        assert_eq!(c.root, PathBuf::from("/mnt/hdd/recordings"));
        assert_eq!(c.retain_bytes, Some(900_000_000_000));
        assert_eq!(c.control, PathBuf::from(DEFAULT_CONTROL));
        assert_eq!(c.segment_s, 60);
        assert_eq!(c.cameras.len(), 2);
        let c3 = c.camera(3).unwrap();
        assert_eq!(c3.url.host, "192.0.2.13");
        assert_eq!(c3.url.port, 554);
        assert_eq!(c3.url.user.as_deref(), Some("admin"));
        assert_eq!(c3.url.password.as_deref(), Some("secret"));
        assert_eq!(c3.transport, Transport::Tcp);
        let c4 = c.camera(4).unwrap();
        assert_eq!(c4.transport, Transport::Udp);
        assert_eq!((c4.alarm_pre_s, c4.alarm_post_s), (5, 20));
        assert_eq!(c4.url.user.as_deref(), Some("bob"));
        assert_eq!(c4.url.password.as_deref(), Some("pw@x"));
        assert_eq!(c4.url.port, 554);
    }

    #[test]
    fn only_root_is_required() {
        let c = parse_config("root = \"/r\"\n").unwrap();
        assert_eq!(c.retain_bytes, None);
        assert_eq!(c.control, PathBuf::from(DEFAULT_CONTROL));
        assert_eq!(c.segment_s, DEFAULT_SEGMENT_S);
        assert!(c.cameras.is_empty());
        assert_eq!(refused("segment_s = 5\n").line, 0);
    }

    #[test]
    fn faults_are_reported_on_their_line() {
        let cases: &[(&str, usize, &str)] = &[
            (
                "root = \"/r\"\nsegmnt_s = 5\n",
                2,
                "unknown key \"segmnt_s\"",
            ),
            (
                "root = \"/r\"\n[[camera]]\nid = 1\nurl = \"rtsp://h/\"\npasword = \"x\"\n",
                5,
                "unknown camera key \"pasword\"",
            ),
            (
                "root = \"/r\"\n[[camera]]\nid = 1\nurl = \"rtsp://a/\"\n[[camera]]\nid = 1\nurl = \"rtsp://b/\"\n",
                5,
                "duplicate camera id 1 (first on line 2)",
            ),
            (
                "root = \"/r\"\n[[camera]]\nid = 1000000000\nurl = \"rtsp://h/\"\n",
                3,
                "camera id 1000000000 cannot be named",
            ),
            (
                "root = \"/r\"\n[[camera]]\nid = -1\nurl = \"rtsp://h/\"\n",
                3,
                "id must be between 0 and",
            ),
            (
                "root = \"/r\"\n[[camera]]\nid = 1\nurl = \"http://h/\"\n",
                4,
                "url \"http://h/\": ",
            ),
            (
                "root = \"/r\"\n[[camera]]\nid = 1\nurl = \"rtsp://h:99999/\"\n",
                4,
                "port",
            ),
            (
                "root = \"/r\"\n[[camera]]\nid = 1\nurl = \"rtsp://h/\"\ntransport = \"sctp\"\n",
                5,
                "transport \"sctp\"",
            ),
            ("root = 3\n", 1, "root must be a string, not integer"),
            (
                "root = \"/r\"\nsegment_s = 0\n",
                2,
                "segment_s must be between 1",
            ),
            ("root = \"/r\"\n\nroot = \"/s\"\n", 3, "duplicate key"),
            ("root = \"/r\"\nx = [\n", 2, ""),
            ("root = \"/r\"\ncamera = 1\n", 2, "[[camera]]"),
            (
                "root = \"/r\"\n[[camera]]\nurl = \"rtsp://h/\"\n",
                2,
                "camera without id",
            ),
            (
                "root = \"/r\"\n[[camera]]\nid = 2\n",
                2,
                "camera 2 has no url",
            ),
        ];
        for (text, line, msg) in cases {
            let e = refused(text);
            assert_eq!(e.line, *line, "{text:?}: {e}");
            assert!(e.message.contains(msg), "{text:?}: {e}");
        }
    }

    #[test]
    fn the_packaged_example_is_accepted() {
        let c = parse_config(include_str!("../../board/common/record.toml")).unwrap();
        assert_eq!(c.root, PathBuf::from("/mnt/hdd/recordings"));
        assert!(c.cameras.is_empty());
        // Its commented camera, uncommented, is accepted too.
        let text = include_str!("../../board/common/record.toml")
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest)
                    if l.starts_with("# [[")
                        || rest.contains(" = ") && !rest.starts_with("retain") =>
                {
                    rest
                }
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let c = parse_config(&text).unwrap();
        assert_eq!(c.cameras.len(), 1);
        assert_eq!(c.camera(3).unwrap().transport, Transport::Tcp);
    }

    #[test]
    fn largest_camera_id_of_the_url_grammar_is_accepted() {
        let c = parse_config("root = \"/r\"\n[[camera]]\nid = 999999999\nurl = \"rtsp://h/\"\n")
            .unwrap();
        assert_eq!(c.cameras[0].id, 999_999_999);
    }

    #[test]
    fn never_panics_on_truncations_of_the_example() {
        for end in 0..EXAMPLE.len() {
            if let Some(t) = EXAMPLE.get(..end) {
                let _ = parse_config(t);
            }
        }
    }
}
