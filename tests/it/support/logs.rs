//! Capturing log output: a `MakeWriter` that appends into a shared buffer, and every spelling
//! of a secret value a log line could carry.

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;
use tracing_subscriber::fmt::MakeWriter;

/// A `MakeWriter` appending into a shared buffer.
#[derive(Clone, Default)]
pub struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Buffer {
    /// Forgets everything written so far.
    pub fn clear(&self) {
        self.0.lock().unwrap().clear();
    }

    /// Everything written so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The hex (both cases) and base64 (padded, unpadded, URL-safe) spellings of `bytes`; for a
/// 33-byte account ID also those of the key without its prefix byte.
pub fn spellings(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut forms = vec![bytes];
    if bytes.len() == 33 {
        forms.push(&bytes[1..]);
    }
    for b in forms {
        out.push(hex::encode(b));
        out.push(hex::encode_upper(b));
        out.push(STANDARD.encode(b));
        out.push(STANDARD_NO_PAD.encode(b));
        out.push(URL_SAFE_NO_PAD.encode(b));
    }
    out
}
