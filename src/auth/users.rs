//! The users file: Apache `htdigest` format, one `user:realm:HA1` per line
//! (HA1 = lowercase hex MD5 of `user:realm:password`), so `htdigest -c FILE
//! ctrtspd alice` makes one.
//!
//! Per-user camera restriction is an optional 4th field,
//! `user:realm:HA1:cameras=1-4,7` (or `cameras=all`). It stays compatible:
//! Apache's `mod_authn_file` reads the hash only up to the next `:` and
//! ignores the rest of the line. One caveat: the `htdigest` tool, when it
//! changes a user's password, rewrites that user's line as `user:realm:HA1`
//! and so drops the field: re-add it afterwards. A user without the field
//! may view every camera.
//!
//! Lines whose first non-blank byte is `#` are comments; blank lines are
//! skipped; trailing blanks and a `\r` are ignored. Entries of every realm
//! are kept; [`Users::find`] looks up the server's.

use super::hash::MD5_LEN_BYTES;
use super::hex::from_hex;
use std::string::String;
use std::vec::Vec;

/// A users-file error: which line (from 1) and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsersError {
    /// 1-based line number.
    pub line: u32,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl core::fmt::Display for UsersError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for UsersError {}

/// The cameras a user may replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CameraAccess {
    /// No `cameras=` field, or `cameras=all`.
    All,
    /// Inclusive ranges of camera ids.
    Only(Vec<(u32, u32)>),
}

impl CameraAccess {
    /// Whether `camera` is allowed.
    pub fn allows(&self, camera: u32) -> bool {
        match self {
            CameraAccess::All => true,
            CameraAccess::Only(ranges) => {
                ranges.iter().any(|&(lo, hi)| lo <= camera && camera <= hi)
            }
        }
    }
}

/// One line of the users file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// User name (no `:`).
    pub name: String,
    /// Realm the HA1 was made for.
    pub realm: String,
    /// MD5(`user:realm:password`); never logged.
    pub(crate) ha1: [u8; MD5_LEN_BYTES],
    /// Cameras this user may replay.
    pub cameras: CameraAccess,
}

/// All users of the file, loaded once at startup (allocation is fine here;
/// lookups allocate nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Users {
    entries: Vec<Entry>,
}

impl Users {
    /// Parses the bytes of an htdigest file (see the module doc).
    pub fn parse(file: &[u8]) -> Result<Users, UsersError> {
        let mut entries: Vec<Entry> = Vec::new();
        for (index, line) in file.split(|&b| b == b'\n').enumerate() {
            let line_no = u32::try_from(index + 1).unwrap_or(u32::MAX);
            let err = |reason| UsersError {
                line: line_no,
                reason,
            };
            let end = line
                .iter()
                .rposition(|b| !b" \t\r".contains(b))
                .map_or(0, |i| i + 1);
            let line = line.get(..end).unwrap_or(&[]);
            let first = line.iter().find(|b| !b" \t".contains(b));
            if first.is_none() || first == Some(&b'#') {
                continue;
            }
            let line = core::str::from_utf8(line).map_err(|_| err("not UTF-8"))?;
            let mut fields = line.split(':');
            let name = fields.next().unwrap_or("");
            let realm = fields.next().ok_or(err("expected user:realm:HA1"))?;
            let ha1 = fields.next().ok_or(err("expected user:realm:HA1"))?;
            let extra = fields.next();
            if fields.next().is_some() {
                return Err(err("too many ':' fields"));
            }
            if name.is_empty() {
                return Err(err("empty user name"));
            }
            let ha1 =
                from_hex::<MD5_LEN_BYTES>(ha1.as_bytes()).ok_or(err("HA1 is not 32 hex digits"))?;
            let cameras = match extra {
                None => CameraAccess::All,
                Some(field) => parse_cameras(field).map_err(err)?,
            };
            if entries.iter().any(|e| e.name == name && e.realm == realm) {
                return Err(err("user listed twice for this realm"));
            }
            entries.push(Entry {
                name: name.into(),
                realm: realm.into(),
                ha1,
                cameras,
            });
        }
        Ok(Users { entries })
    }

    /// The entry for `name` (given as a predicate, so a header's escaped
    /// value can be compared without copying it) in `realm`.
    pub fn find(&self, realm: &str, name: impl Fn(&[u8]) -> bool) -> Option<&Entry> {
        self.find_indexed(realm, name).map(|(_, e)| e)
    }

    /// [`Users::find`], with the entry's index in the file's order.
    pub fn find_indexed(
        &self,
        realm: &str,
        name: impl Fn(&[u8]) -> bool,
    ) -> Option<(usize, &Entry)> {
        self.entries
            .iter()
            .enumerate()
            .find(|(_, e)| e.realm == realm && name(e.name.as_bytes()))
    }

    /// Number of entries in `realm`, for the startup log ("N users").
    pub fn count_in_realm(&self, realm: &str) -> usize {
        self.entries.iter().filter(|e| e.realm == realm).count()
    }

    /// Every entry, all realms.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }
}

fn parse_cameras(field: &str) -> Result<CameraAccess, &'static str> {
    let list = field
        .strip_prefix("cameras=")
        .ok_or("4th field must be cameras=LIST")?;
    if list == "all" {
        return Ok(CameraAccess::All);
    }
    let id = |s: &str| -> Result<u32, &'static str> {
        if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err("camera id is not a decimal number");
        }
        s.parse().map_err(|_| "camera id out of range")
    };
    let mut ranges = Vec::new();
    for item in list.split(',') {
        let (lo, hi) = match item.split_once('-') {
            Some((lo, hi)) => (id(lo)?, id(hi)?),
            None => {
                let one = id(item)?;
                (one, one)
            }
        };
        if lo > hi {
            return Err("camera range goes backwards");
        }
        ranges.push((lo, hi));
    }
    Ok(CameraAccess::Only(ranges))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &[u8] = include_bytes!("../../tests/fixtures/auth_users.htdigest");

    #[test]
    fn fixture_parses() {
        let users = Users::parse(FILE).unwrap();
        assert_eq!(users.count_in_realm("ctrtspd"), 3);
        assert_eq!(users.count_in_realm("other"), 1);
        let alice = users.find("ctrtspd", |n| n == b"alice").unwrap();
        assert_eq!(alice.cameras, CameraAccess::All);
        assert_eq!(
            super::super::hex::Hex(&alice.ha1).to_string(),
            // MD5("alice:ctrtspd:Circle Of Life"), as htdigest writes it.
            "66b130228a143c90b4e2a225f1e77552"
        );
        let bob = users.find("ctrtspd", |n| n == b"bob").unwrap();
        assert!(bob.cameras.allows(1) && bob.cameras.allows(4) && bob.cameras.allows(7));
        assert!(!bob.cameras.allows(0) && !bob.cameras.allows(5) && !bob.cameras.allows(8));
        assert_eq!(
            users.find("other", |n| n == b"bob").unwrap().cameras,
            CameraAccess::All
        );
        assert!(users.find("other", |n| n == b"alice").is_none());
        assert!(users.find("ctrtspd", |n| n == b"carol").is_none());
    }

    #[test]
    fn errors_carry_line_numbers() {
        let e = |text: &str| Users::parse(text.as_bytes()).unwrap_err();
        let ha1 = "66b130228a143c90b4e2a225f1e77552";
        assert_eq!(
            e(&format!("# c\n\nalice:ctrtspd:{ha1}\nbob:ctrtspd\n")),
            UsersError {
                line: 4,
                reason: "expected user:realm:HA1"
            }
        );
        assert_eq!(e("a:r:123\n").reason, "HA1 is not 32 hex digits");
        assert_eq!(e(&format!(":r:{ha1}")).reason, "empty user name");
        assert_eq!(e(&format!("a:r:{ha1}:x:y")).reason, "too many ':' fields");
        assert_eq!(
            e(&format!("a:r:{ha1}:groups=1")).reason,
            "4th field must be cameras=LIST"
        );
        assert_eq!(
            e(&format!("a:r:{ha1}:cameras=")).reason,
            "camera id is not a decimal number"
        );
        assert_eq!(
            e(&format!("a:r:{ha1}:cameras=4-1")).reason,
            "camera range goes backwards"
        );
        assert_eq!(
            e(&format!("a:r:{ha1}:cameras=1,-2")).reason,
            "camera id is not a decimal number"
        );
        assert_eq!(
            e(&format!("a:r:{ha1}:cameras=4294967296")).reason,
            "camera id out of range"
        );
        assert_eq!(
            e(&format!("a:r:{ha1}\r\n\r\na:r:{ha1}\r\n")),
            UsersError {
                line: 3,
                reason: "user listed twice for this realm"
            }
        );
        assert_eq!(e("a:r:\u{ff}\n").reason, "HA1 is not 32 hex digits");
        assert_eq!(
            Users::parse(b"\n\xff:r:x\n").unwrap_err(),
            UsersError {
                line: 2,
                reason: "not UTF-8"
            }
        );
    }

    #[test]
    fn empty_and_comment_only_files_have_no_users() {
        assert_eq!(Users::parse(b"").unwrap().entries().len(), 0);
        assert_eq!(Users::parse(b"  # x\n\t\n").unwrap().entries().len(), 0);
    }
}
