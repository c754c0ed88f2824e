//! The two kinds of recordings an NVR keeps per camera.

/// Which recording of a camera: the continuous one or the event clips.
///
/// The numeric values are written on disk, so they never change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Kind {
    /// Continuous (scheduled) recording: `regul` in URLs and directory names.
    Regul = 0,
    /// Event-triggered clips with gaps between them: `alarm`.
    Alarm = 1,
}

impl Kind {
    /// Both kinds, in directory order.
    pub const ALL: [Kind; 2] = [Kind::Regul, Kind::Alarm];

    /// The name used in URLs and as the directory name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Regul => "regul",
            Kind::Alarm => "alarm",
        }
    }

    /// Parses the exact name used in URLs and directories (case-sensitive).
    pub fn from_name(name: &str) -> Option<Kind> {
        match name {
            "regul" => Some(Kind::Regul),
            "alarm" => Some(Kind::Alarm),
            _ => None,
        }
    }

    /// The on-disk code.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The kind with on-disk code `code`, if known.
    pub const fn from_code(code: u8) -> Option<Kind> {
        match code {
            0 => Some(Kind::Regul),
            1 => Some(Kind::Alarm),
            _ => None,
        }
    }
}

impl core::fmt::Display for Kind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}
