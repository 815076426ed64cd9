//! What a message from a remote means (PROTOCOL §7.2), as seen from the DEALER side.

/// A classified incoming message.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// `["HELLO"]`: the connection is usable.
    Hello,
    /// `["BYE"]`: the remote is closing.
    Bye,
    /// `["REPLY", TAG, part…]`.
    Reply { tag: Vec<u8>, parts: Vec<Vec<u8>> },
    /// `["FORBIDDEN" | "FORBIDDEN_SN" | "NOT_A_SERVICE_NODE", "REPLY", TAG]`.
    Refused { reason: String, tag: Vec<u8> },
    /// `["UNKNOWNCOMMAND", name]`: a request to it is never answered.
    UnknownCommand(String),
    /// `["NO_REPLY_TAG", name]`.
    NoReplyTag(String),
    /// `["category.command", part…]`, e.g. `notify.message`.
    Command { name: String, parts: Vec<Vec<u8>> },
    /// Anything else (dropped).
    Malformed,
}

/// [`Incoming`] borrowing the received frames (the hot path: no allocation).
#[derive(Debug, PartialEq, Eq)]
pub enum IncomingRef<'a> {
    /// `["HELLO"]`.
    Hello,
    /// `["BYE"]`.
    Bye,
    /// `["REPLY", TAG, part…]`.
    Reply {
        tag: &'a [u8],
        parts: &'a [&'a [u8]],
    },
    /// `["FORBIDDEN" | "FORBIDDEN_SN" | "NOT_A_SERVICE_NODE", "REPLY", TAG]`.
    Refused { reason: &'a str, tag: &'a [u8] },
    /// `["UNKNOWNCOMMAND", name]`.
    UnknownCommand(&'a [u8]),
    /// `["NO_REPLY_TAG", name]`.
    NoReplyTag(&'a [u8]),
    /// `["category.command", part…]`; the name is printable ASCII.
    Command {
        name: &'a str,
        parts: &'a [&'a [u8]],
    },
    /// Anything else.
    Malformed,
}

fn text(frame: &[u8]) -> String {
    String::from_utf8_lossy(frame).into_owned()
}

/// Classifies one multipart message given as borrowed frames.
pub fn classify_frames<'a>(frames: &'a [&'a [u8]]) -> IncomingRef<'a> {
    let Some((&first, rest)) = frames.split_first() else {
        return IncomingRef::Malformed;
    };
    match first {
        b"HELLO" => IncomingRef::Hello,
        b"BYE" => IncomingRef::Bye,
        b"REPLY" if !rest.is_empty() => IncomingRef::Reply {
            tag: rest[0],
            parts: &rest[1..],
        },
        b"FORBIDDEN" | b"FORBIDDEN_SN" | b"NOT_A_SERVICE_NODE"
            if rest.len() >= 2 && rest[0] == b"REPLY" =>
        {
            IncomingRef::Refused {
                reason: std::str::from_utf8(first).unwrap_or("FORBIDDEN"),
                tag: rest[1],
            }
        }
        b"UNKNOWNCOMMAND" => IncomingRef::UnknownCommand(rest.first().copied().unwrap_or(b"")),
        b"NO_REPLY_TAG" => IncomingRef::NoReplyTag(rest.first().copied().unwrap_or(b"")),
        name if is_command_name(name) => match std::str::from_utf8(name) {
            Ok(name) => IncomingRef::Command { name, parts: rest },
            Err(_) => IncomingRef::Malformed,
        },
        _ => IncomingRef::Malformed,
    }
}

impl IncomingRef<'_> {
    /// An owned copy.
    pub fn to_owned(&self) -> Incoming {
        let vecs = |parts: &[&[u8]]| parts.iter().map(|p| p.to_vec()).collect();
        match *self {
            IncomingRef::Hello => Incoming::Hello,
            IncomingRef::Bye => Incoming::Bye,
            IncomingRef::Reply { tag, parts } => Incoming::Reply {
                tag: tag.to_vec(),
                parts: vecs(parts),
            },
            IncomingRef::Refused { reason, tag } => Incoming::Refused {
                reason: reason.to_string(),
                tag: tag.to_vec(),
            },
            IncomingRef::UnknownCommand(name) => Incoming::UnknownCommand(text(name)),
            IncomingRef::NoReplyTag(name) => Incoming::NoReplyTag(text(name)),
            IncomingRef::Command { name, parts } => Incoming::Command {
                name: name.to_string(),
                parts: vecs(parts),
            },
            IncomingRef::Malformed => Incoming::Malformed,
        }
    }
}

/// Classifies one multipart message (owned form of [`classify_frames`]).
pub fn classify(frames: Vec<Vec<u8>>) -> Incoming {
    let slices: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    classify_frames(&slices).to_owned()
}

/// `category.command`: printable ASCII with one dot, neither part empty.
fn is_command_name(name: &[u8]) -> bool {
    let Some(dot) = name.iter().position(|&b| b == b'.') else {
        return false;
    };
    dot > 0 && dot + 1 < name.len() && name.iter().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(parts: &[&[u8]]) -> Vec<Vec<u8>> {
        parts.iter().map(|p| p.to_vec()).collect()
    }

    #[test]
    fn every_frame_kind_of_section_7_2() {
        assert_eq!(classify(f(&[b"HELLO"])), Incoming::Hello);
        assert_eq!(classify(f(&[b"BYE"])), Incoming::Bye);
        assert_eq!(
            classify(f(&[b"REPLY", b"t1", b"a", b"b"])),
            Incoming::Reply {
                tag: b"t1".to_vec(),
                parts: f(&[b"a", b"b"])
            }
        );
        assert_eq!(
            classify(f(&[b"FORBIDDEN_SN", b"REPLY", b"t2"])),
            Incoming::Refused {
                reason: "FORBIDDEN_SN".into(),
                tag: b"t2".to_vec()
            }
        );
        assert_eq!(
            classify(f(&[b"UNKNOWNCOMMAND", b"x.y"])),
            Incoming::UnknownCommand("x.y".into())
        );
        assert_eq!(
            classify(f(&[b"NO_REPLY_TAG", b"x.y"])),
            Incoming::NoReplyTag("x.y".into())
        );
        assert_eq!(
            classify(f(&[b"notify.message", b"d1:@0:e"])),
            Incoming::Command {
                name: "notify.message".into(),
                parts: f(&[b"d1:@0:e"])
            }
        );
    }

    #[test]
    fn borrowed_form_matches_the_owned_one() {
        let reply: [&[u8]; 4] = [b"REPLY", b"t1", b"a", b"b"];
        assert_eq!(
            classify_frames(&reply),
            IncomingRef::Reply {
                tag: b"t1",
                parts: &[b"a", b"b"]
            }
        );
        let notify: [&[u8]; 2] = [b"notify.message", b"d1:@0:e"];
        assert_eq!(
            classify_frames(&notify),
            IncomingRef::Command {
                name: "notify.message",
                parts: &[b"d1:@0:e"]
            }
        );
        let refused: [&[u8]; 3] = [b"NOT_A_SERVICE_NODE", b"REPLY", b"t"];
        assert_eq!(
            classify_frames(&refused),
            IncomingRef::Refused {
                reason: "NOT_A_SERVICE_NODE",
                tag: b"t"
            }
        );
        assert_eq!(classify_frames(&[]), IncomingRef::Malformed);
    }

    #[test]
    fn garbage_is_malformed() {
        assert_eq!(classify(Vec::new()), Incoming::Malformed);
        assert_eq!(classify(f(&[b"REPLY"])), Incoming::Malformed);
        assert_eq!(classify(f(&[b"FORBIDDEN", b"t"])), Incoming::Malformed);
        assert_eq!(classify(f(&[b"nodot"])), Incoming::Malformed);
        assert_eq!(classify(f(&[b".x"])), Incoming::Malformed);
        assert_eq!(classify(f(&[b"a b.c"])), Incoming::Malformed);
    }
}
