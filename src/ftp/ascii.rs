//! ASCII mode (TYPE A) line-ending conversion, streaming across chunk boundaries as vsftpd does.

/// Download direction: every LF not already preceded by CR becomes CRLF; CRLF stays as it is.
#[derive(Debug, Default)]
pub struct ToNetwork {
    last_was_cr: bool,
}

impl ToNetwork {
    pub fn convert(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len() + input.len() / 16);
        for &byte in input {
            if byte == b'\n' && !self.last_was_cr {
                out.push(b'\r');
            }
            out.push(byte);
            self.last_was_cr = byte == b'\r';
        }
    }
}

/// Upload direction: every CRLF becomes LF; a CR not followed by LF is kept, also when the
/// chunk ends between the two.
#[derive(Debug, Default)]
pub struct FromNetwork {
    pending_cr: bool,
}

impl FromNetwork {
    pub fn convert(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len() + 1);
        for &byte in input {
            if self.pending_cr {
                self.pending_cr = false;
                if byte != b'\n' {
                    out.push(b'\r');
                }
            }
            if byte == b'\r' {
                self.pending_cr = true;
            } else {
                out.push(byte);
            }
        }
    }

    /// The end of the upload: a CR left waiting for its LF is data.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if std::mem::take(&mut self.pending_cr) {
            out.push(b'\r');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to_network(chunks: &[&[u8]]) -> Vec<u8> {
        let mut converter = ToNetwork::default();
        let mut out = Vec::new();
        for chunk in chunks {
            converter.convert(chunk, &mut out);
        }
        out
    }

    fn from_network(chunks: &[&[u8]]) -> Vec<u8> {
        let mut converter = FromNetwork::default();
        let mut out = Vec::new();
        for chunk in chunks {
            converter.convert(chunk, &mut out);
        }
        converter.finish(&mut out);
        out
    }

    #[test]
    fn downloads_get_crlf_once() {
        assert_eq!(to_network(&[b"a\nb\r\nc\n"]), b"a\r\nb\r\nc\r\n");
        assert_eq!(
            to_network(&[b"a\r", b"\nb\n"]),
            b"a\r\nb\r\n",
            "CRLF split across chunks"
        );
        assert_eq!(to_network(&[b"\n\n"]), b"\r\n\r\n");
    }

    #[test]
    fn uploads_lose_cr_before_lf_only() {
        assert_eq!(from_network(&[b"a\r\nb\rc\r\n"]), b"a\nb\rc\n");
        assert_eq!(
            from_network(&[b"a\r", b"\nb"]),
            b"a\nb",
            "CRLF split across chunks"
        );
        assert_eq!(from_network(&[b"a\r", b"b"]), b"a\rb");
        assert_eq!(from_network(&[b"end\r"]), b"end\r", "a final CR is data");
    }

    #[test]
    fn round_trip_of_unix_text() {
        let text = b"line one\nline two\n\nlast";
        assert_eq!(from_network(&[&to_network(&[text])]), text);
    }
}
