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

fn text(frame: &[u8]) -> String {
    String::from_utf8_lossy(frame).into_owned()
}

/// Classifies one multipart message.
pub fn classify(mut frames: Vec<Vec<u8>>) -> Incoming {
    if frames.is_empty() {
        return Incoming::Malformed;
    }
    let first = frames.remove(0);
    match first.as_slice() {
        b"HELLO" => Incoming::Hello,
        b"BYE" => Incoming::Bye,
        b"REPLY" if !frames.is_empty() => {
            let tag = frames.remove(0);
            Incoming::Reply { tag, parts: frames }
        }
        b"FORBIDDEN" | b"FORBIDDEN_SN" | b"NOT_A_SERVICE_NODE"
            if frames.len() >= 2 && frames[0] == b"REPLY" =>
        {
            Incoming::Refused {
                reason: text(&first),
                tag: frames.swap_remove(1),
            }
        }
        b"UNKNOWNCOMMAND" => {
            Incoming::UnknownCommand(frames.first().map_or_else(String::new, |f| text(f)))
        }
        b"NO_REPLY_TAG" => {
            Incoming::NoReplyTag(frames.first().map_or_else(String::new, |f| text(f)))
        }
        name if is_command_name(name) => Incoming::Command {
            name: text(name),
            parts: frames,
        },
        _ => Incoming::Malformed,
    }
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
    fn garbage_is_malformed() {
        assert_eq!(classify(Vec::new()), Incoming::Malformed);
        assert_eq!(classify(f(&[b"REPLY"])), Incoming::Malformed);
        assert_eq!(classify(f(&[b"FORBIDDEN", b"t"])), Incoming::Malformed);
        assert_eq!(classify(f(&[b"nodot"])), Incoming::Malformed);
        assert_eq!(classify(f(&[b".x"])), Incoming::Malformed);
        assert_eq!(classify(f(&[b"a b.c"])), Incoming::Malformed);
    }
}
