//! The `Range: bytes=...` request header (RFC 9110 14.1.2) against a
//! resource of known length: one range served as 206, anything the server
//! cannot satisfy as 416, and what it chooses to ignore as a full 200.

/// What to send for a `Range` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeReply {
    /// The whole resource (no header, or one ignored: several ranges, or
    /// another unit), 200.
    Full,
    /// Bytes `[start, end)`, 206 with `Content-Range: bytes start-(end-1)/len`.
    Partial {
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
    },
    /// The range is syntactically a byte range but selects nothing (416
    /// with `Content-Range: bytes */len`); or malformed.
    Unsatisfiable,
}

/// Resolves `header` (the `Range` value, if any) against `len_bytes`.
pub fn resolve(header: Option<&str>, len_bytes: u64) -> RangeReply {
    let Some(h) = header else {
        return RangeReply::Full;
    };
    let Some(spec) = h.trim().strip_prefix("bytes=") else {
        // Another unit: ignore the header (RFC 9110 14.2).
        return RangeReply::Full;
    };
    if spec.contains(',') {
        // Several ranges would need multipart/byteranges; a server may
        // ignore Range and send the whole representation.
        return RangeReply::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeReply::Unsatisfiable;
    };
    let num = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    match (first.trim(), last.trim()) {
        ("", suffix) => match num(suffix) {
            Some(n) if n > 0 && len_bytes > 0 => RangeReply::Partial {
                start: len_bytes.saturating_sub(n),
                end: len_bytes,
            },
            _ => RangeReply::Unsatisfiable,
        },
        (a, "") => match num(a) {
            Some(a) if a < len_bytes => RangeReply::Partial {
                start: a,
                end: len_bytes,
            },
            _ => RangeReply::Unsatisfiable,
        },
        (a, b) => match (num(a), num(b)) {
            (Some(a), Some(b)) if a <= b && a < len_bytes => RangeReply::Partial {
                start: a,
                end: b.saturating_add(1).min(len_bytes),
            },
            _ => RangeReply::Unsatisfiable,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeReply::*;

    #[test]
    fn first_middle_last_suffix_and_open() {
        let p = |start, end| Partial { start, end };
        assert_eq!(resolve(None, 100), Full);
        assert_eq!(resolve(Some("bytes=0-0"), 100), p(0, 1));
        assert_eq!(resolve(Some("bytes=40-59"), 100), p(40, 60));
        assert_eq!(resolve(Some("bytes=99-99"), 100), p(99, 100));
        assert_eq!(resolve(Some("bytes=-1"), 100), p(99, 100));
        assert_eq!(resolve(Some("bytes=-500"), 100), p(0, 100));
        assert_eq!(resolve(Some("bytes=10-"), 100), p(10, 100));
        assert_eq!(resolve(Some("bytes=90-1000"), 100), p(90, 100));
    }

    #[test]
    fn unsatisfiable_and_ignored() {
        for bad in [
            "bytes=100-",
            "bytes=100-200",
            "bytes=5-4",
            "bytes=-0",
            "bytes=",
            "bytes=-",
            "bytes=a-b",
            "bytes=1",
            "bytes=+1-2",
            "bytes=18446744073709551616-",
        ] {
            assert_eq!(resolve(Some(bad), 100), Unsatisfiable, "{bad}");
        }
        assert_eq!(resolve(Some("bytes=-1"), 0), Unsatisfiable);
        assert_eq!(resolve(Some("bytes=0-1,5-6"), 100), Full);
        assert_eq!(resolve(Some("items=0-1"), 100), Full);
    }
}
