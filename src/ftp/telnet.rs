//! Control-connection framing: raw socket bytes in, one command line at a time out, Telnet IAC removed.
//!
//! Lines are bytes, not `String`: vsftpd passes path bytes through untouched, so a file whose
//! name is not UTF-8 can be listed and then fetched with the same bytes. Decoding is left to
//! whoever needs text (the verb, log lines).
//!
//! Where ringd differs from vsftpd 3.0.3, on purpose:
//! - vsftpd does no Telnet processing on input at all; ringd removes IAC sequences as RFC 959
//!   asks (IAC IAC is a data byte 0xFF; IAC WILL/WONT/DO/DONT x and the two-byte commands such
//!   as IP and DM are dropped), so `IAC IP IAC DM ABOR` arrives as `ABOR`. IAC SB is dropped
//!   like a two-byte command, its payload kept: FTP clients never negotiate, and waiting for an
//!   IAC SE that never comes would swallow the session. IAC before a byte that is no Telnet
//!   command is kept with that byte (a raw Latin-1 `ÿ` the client did not double).
//! - vsftpd answers an over-long line with `500 Input line too long.` and ends the session;
//!   ringd reports it once, discards the line up to its end and keeps reading.
//! - vsftpd turns a NUL byte into `\n`; ringd rejects the line (a NUL cannot be part of a path).

use super::replies::{self, FixedReply};

/// vsftpd's `VSFTP_MAX_COMMAND_LINE`: a line, terminator included, may be at most this long.
pub const VSFTPD_MAX_COMMAND_LINE: usize = 4096;

const IAC: u8 = 255;
const DONT: u8 = 254;
const WILL: u8 = 251;
/// SE (240) up to SB (250) are the Telnet commands made of IAC and one byte.
const SE: u8 = 240;
const SB: u8 = 250;

/// Why a line was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// The line was longer than the limit; it is discarded up to its end.
    #[error("command line too long")]
    TooLong,
    /// The line contained a NUL byte.
    #[error("command line contains a NUL byte")]
    ContainsNul,
}

impl LineError {
    /// The reply to send; the session goes on.
    pub fn reply(self) -> FixedReply {
        match self {
            LineError::TooLong => replies::INPUT_LINE_TOO_LONG,
            LineError::ContainsNul => replies::NUL_IN_COMMAND,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TelnetState {
    Data,
    /// Seen IAC.
    Command,
    /// Seen IAC WILL/WONT/DO/DONT: the next byte is the option to drop.
    Option,
}

/// Splits the control stream into lines (ended by LF, CRs before it removed), bounded in length.
#[derive(Clone, Debug)]
pub struct LineReader {
    max_line: usize,
    /// Bytes pushed but not yet looked at start at `read_pos`.
    input: Vec<u8>,
    read_pos: usize,
    /// The decoded part of the line being read.
    line: Vec<u8>,
    /// Wire bytes of the line being read, IAC sequences included: the limit is on what the
    /// client sent, as vsftpd counts it.
    line_wire_len: usize,
    line_has_nul: bool,
    /// Inside a too-long line that has been reported: drop bytes up to its LF.
    discarding: bool,
    telnet: TelnetState,
}

impl LineReader {
    /// `max_line` counts the wire bytes of a line including its LF
    /// (use [`VSFTPD_MAX_COMMAND_LINE`] for vsftpd's limit).
    pub fn new(max_line: usize) -> Self {
        LineReader {
            max_line: max_line.max(1),
            input: Vec::new(),
            read_pos: 0,
            line: Vec::new(),
            line_wire_len: 0,
            line_has_nul: false,
            discarding: false,
            telnet: TelnetState::Data,
        }
    }

    /// Adds bytes as read from the socket.
    pub fn push(&mut self, bytes: &[u8]) {
        // Reclaim the consumed front before growing, so a long session does not keep
        // everything it ever read.
        if self.read_pos == self.input.len() {
            self.input.clear();
            self.read_pos = 0;
        } else if self.read_pos >= self.max_line {
            self.input.drain(..self.read_pos);
            self.read_pos = 0;
        }
        self.input.extend_from_slice(bytes);
    }

    /// The next complete line, or `None` until more bytes are pushed.
    ///
    /// An over-long line yields `Err(TooLong)` as soon as it passes the limit, once; the rest
    /// of it is skipped and reading resumes after its LF.
    pub fn next_line(&mut self) -> Option<Result<Vec<u8>, LineError>> {
        while self.read_pos < self.input.len() {
            let byte = self.input[self.read_pos];
            self.read_pos += 1;
            self.line_wire_len += 1;
            if self.decode(byte) {
                if let Some(result) = self.finish_line() {
                    return Some(result);
                }
                continue;
            }
            if !self.discarding && self.line_wire_len >= self.max_line {
                // The LF could at best be the next byte, one past the limit.
                self.discarding = true;
                self.line.clear();
                self.line_has_nul = false;
                return Some(Err(LineError::TooLong));
            }
        }
        // Everything read is consumed: give the buffer back, as an idle session (most of them)
        // should hold no memory for input it has already handled.
        self.input = Vec::new();
        self.read_pos = 0;
        None
    }

    /// What [`next_line`](Self::next_line) would return, leaving the line in place.
    ///
    /// For looking ahead while a transfer runs (is it ABOR?), when a line that is not taken
    /// must still be served afterwards. It decodes a copy, which is at most one line's worth
    /// of bytes plus one read: a line, or an over-long line's error, is found once the
    /// reader holds more than the limit.
    pub fn peek_line(&self) -> Option<Result<Vec<u8>, LineError>> {
        self.clone().next_line()
    }

    /// Bytes held: pushed but not yet consumed, plus the decoded part of an unfinished line.
    pub fn buffered(&self) -> usize {
        self.input.len() - self.read_pos + self.line.len()
    }

    /// Feeds one wire byte through the Telnet decoder; true when it ends the line.
    fn decode(&mut self, byte: u8) -> bool {
        match self.telnet {
            TelnetState::Data => {
                if byte == IAC {
                    self.telnet = TelnetState::Command;
                    false
                } else {
                    self.data_byte(byte)
                }
            }
            TelnetState::Command => {
                self.telnet = TelnetState::Data;
                match byte {
                    IAC => self.data_byte(IAC),
                    WILL..=DONT => {
                        self.telnet = TelnetState::Option;
                        false
                    }
                    SE..=SB => false,
                    // Not a Telnet command: a client that sent a raw 0xFF (Latin-1 'ÿ') without
                    // doubling it. Keep both bytes so the name survives.
                    _ => {
                        self.data_byte(IAC);
                        self.data_byte(byte)
                    }
                }
            }
            TelnetState::Option => {
                self.telnet = TelnetState::Data;
                false
            }
        }
    }

    /// Adds a decoded byte to the line; true when it is the LF that ends it.
    fn data_byte(&mut self, byte: u8) -> bool {
        if byte == b'\n' {
            return true;
        }
        if !self.discarding {
            self.line_has_nul |= byte == 0;
            self.line.push(byte);
        }
        false
    }

    /// Called at the LF: the line's result, or `None` for the tail of a discarded line.
    fn finish_line(&mut self) -> Option<Result<Vec<u8>, LineError>> {
        self.line_wire_len = 0;
        if self.discarding {
            self.discarding = false;
            return None;
        }
        let has_nul = std::mem::take(&mut self.line_has_nul);
        let mut line = std::mem::take(&mut self.line);
        // vsftpd strips every trailing CR, not just one.
        while line.last() == Some(&b'\r') {
            line.pop();
        }
        Some(if has_nul {
            Err(LineError::ContainsNul)
        } else {
            Ok(line)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(reader: &mut LineReader) -> Vec<Result<Vec<u8>, LineError>> {
        std::iter::from_fn(|| reader.next_line()).collect()
    }

    fn read_all(max: usize, input: &[u8]) -> Vec<Result<Vec<u8>, LineError>> {
        let mut reader = LineReader::new(max);
        reader.push(input);
        lines_of(&mut reader)
    }

    fn ok(text: &[u8]) -> Result<Vec<u8>, LineError> {
        Ok(text.to_vec())
    }

    #[test]
    fn crlf_and_bare_lf_both_end_a_line() {
        assert_eq!(
            read_all(4096, b"USER ftp\r\nPASS x\nNOOP\r\n"),
            vec![ok(b"USER ftp"), ok(b"PASS x"), ok(b"NOOP")]
        );
    }

    #[test]
    fn every_trailing_cr_is_stripped_but_inner_ones_stay() {
        assert_eq!(
            read_all(4096, b"NOOP\r\r\r\nA\rB\r\n"),
            vec![ok(b"NOOP"), ok(b"A\rB")]
        );
    }

    #[test]
    fn incomplete_line_waits_for_more_bytes() {
        let mut reader = LineReader::new(4096);
        reader.push(b"RETR fi");
        assert_eq!(reader.next_line(), None);
        assert_eq!(reader.buffered(), 7);
        reader.push(b"le.txt\r");
        assert_eq!(reader.next_line(), None);
        reader.push(b"\nQUIT\r\n");
        assert_eq!(reader.next_line(), Some(ok(b"RETR file.txt")));
        assert_eq!(reader.next_line(), Some(ok(b"QUIT")));
        assert_eq!(reader.next_line(), None);
        assert_eq!(reader.buffered(), 0);
    }

    #[test]
    fn byte_at_a_time_gives_the_same_lines() {
        let input = b"CWD pub\r\n\xff\xf4\xff\xf2ABOR\r\nSTOR a\xff\xffb\r\n";
        let mut reader = LineReader::new(4096);
        let mut got = Vec::new();
        for byte in input {
            reader.push(std::slice::from_ref(byte));
            got.extend(lines_of(&mut reader));
        }
        assert_eq!(got, read_all(4096, input));
        assert_eq!(got, vec![ok(b"CWD pub"), ok(b"ABOR"), ok(b"STOR a\xffb")]);
    }

    #[test]
    fn peeking_leaves_the_line_and_the_decoder_state() {
        let mut reader = LineReader::new(4096);
        reader.push(b"\xff\xf4\xff");
        assert_eq!(reader.peek_line(), None);
        reader.push(b"\xf2ABOR\r");
        assert_eq!(reader.peek_line(), None);
        reader.push(b"\nNOOP\r\nST");
        assert_eq!(reader.peek_line(), Some(ok(b"ABOR")));
        assert_eq!(reader.peek_line(), Some(ok(b"ABOR")), "peeking twice");
        assert_eq!(reader.next_line(), Some(ok(b"ABOR")));
        assert_eq!(reader.peek_line(), Some(ok(b"NOOP")));
        assert_eq!(reader.next_line(), Some(ok(b"NOOP")));
        assert_eq!(reader.peek_line(), None);
        reader.push(b"AT\r\n");
        assert_eq!(reader.next_line(), Some(ok(b"STAT")));
    }

    #[test]
    fn peeking_at_an_over_long_line_reports_it_and_taking_it_discards_it() {
        let mut reader = LineReader::new(8);
        reader.push(&[b'x'; 10]);
        assert_eq!(reader.peek_line(), Some(Err(LineError::TooLong)));
        assert_eq!(reader.next_line(), Some(Err(LineError::TooLong)));
        reader.push(b"\nPWD\n");
        assert_eq!(reader.next_line(), Some(ok(b"PWD")));
    }

    #[test]
    fn empty_lines_are_lines() {
        assert_eq!(read_all(4096, b"\r\n\n"), vec![ok(b""), ok(b"")]);
    }

    #[test]
    fn iac_iac_is_a_literal_ff() {
        assert_eq!(
            read_all(4096, b"RETR \xff\xff.txt\r\n"),
            vec![ok(b"RETR \xff.txt")]
        );
    }

    #[test]
    fn option_negotiation_is_dropped() {
        // IAC WILL 1, IAC WONT 3, IAC DO 24, IAC DONT 31 around and inside a command.
        let input = b"\xff\xfb\x01NO\xff\xfc\x03OP\xff\xfd\x18\xff\xfe\x1f\r\n";
        assert_eq!(read_all(4096, input), vec![ok(b"NOOP")]);
    }

    #[test]
    fn option_byte_may_be_a_newline() {
        // The byte after IAC DO is the option, even when it is LF: it does not end the line.
        assert_eq!(read_all(4096, b"NO\xff\xfd\nOP\r\n"), vec![ok(b"NOOP")]);
    }

    #[test]
    fn interrupt_and_data_mark_before_abor_are_dropped() {
        // What clients send for an urgent ABOR: IAC IP, IAC DM (the DM as out-of-band data).
        assert_eq!(
            read_all(4096, b"\xff\xf4\xff\xf2ABOR\r\n"),
            vec![ok(b"ABOR")]
        );
    }

    #[test]
    fn every_two_byte_command_is_dropped() {
        let mut input = b"NO".to_vec();
        for command in 240..=250u8 {
            input.extend_from_slice(&[IAC, command]);
        }
        input.extend_from_slice(b"OP\r\n");
        assert_eq!(read_all(4096, &input), vec![ok(b"NOOP")]);
    }

    #[test]
    fn iac_split_across_pushes() {
        let mut reader = LineReader::new(4096);
        reader.push(b"STOR a\xff");
        assert_eq!(reader.next_line(), None);
        reader.push(b"\xffb\xff\xfb");
        assert_eq!(reader.next_line(), None);
        reader.push(b"\x01\r\n");
        assert_eq!(reader.next_line(), Some(ok(b"STOR a\xffb")));
    }

    #[test]
    fn unescaped_ff_before_a_plain_byte_is_kept() {
        assert_eq!(read_all(4096, b"RETR \xffa\r\n"), vec![ok(b"RETR \xffa")]);
        assert_eq!(read_all(4096, b"RETR \xff\n"), vec![ok(b"RETR \xff")]);
    }

    #[test]
    fn utf8_and_latin1_bytes_pass_through() {
        assert_eq!(
            read_all(4096, "RETR café.txt\r\n".as_bytes()),
            vec![ok("RETR café.txt".as_bytes())]
        );
        assert_eq!(
            read_all(4096, b"RETR caf\xe9.txt\r\n"),
            vec![ok(b"RETR caf\xe9.txt")]
        );
    }

    #[test]
    fn line_at_the_limit_is_accepted() {
        // vsftpd: 4096 bytes including the LF fit.
        let mut line = vec![b'a'; 4095];
        line.push(b'\n');
        assert_eq!(read_all(4096, &line), vec![ok(&[b'a'; 4095])]);
        let mut crlf = vec![b'a'; 4094];
        crlf.extend_from_slice(b"\r\n");
        assert_eq!(read_all(4096, &crlf), vec![ok(&[b'a'; 4094])]);
    }

    #[test]
    fn line_one_byte_over_is_rejected_once_and_reading_resumes() {
        let mut input = vec![b'a'; 4096];
        input.extend_from_slice(b"\r\nNOOP\r\n");
        assert_eq!(
            read_all(4096, &input),
            vec![Err(LineError::TooLong), ok(b"NOOP")]
        );
    }

    #[test]
    fn huge_line_is_reported_before_its_end_arrives_and_memory_stays_bounded() {
        let mut reader = LineReader::new(16);
        reader.push(&[b'x'; 20]);
        assert_eq!(reader.next_line(), Some(Err(LineError::TooLong)));
        assert_eq!(reader.next_line(), None);
        for _ in 0..1000 {
            reader.push(&[b'x'; 1000]);
            assert_eq!(reader.next_line(), None);
            assert!(
                reader.buffered() <= 1000 + 16,
                "buffered {}",
                reader.buffered()
            );
        }
        reader.push(b"\r\nPWD\r\n");
        assert_eq!(reader.next_line(), Some(ok(b"PWD")));
        assert_eq!(reader.next_line(), None);
    }

    #[test]
    fn two_long_lines_are_two_errors() {
        let mut input = vec![b'a'; 10];
        input.push(b'\n');
        input.extend_from_slice(&[b'b'; 10]);
        input.push(b'\n');
        assert_eq!(
            read_all(8, &input),
            vec![Err(LineError::TooLong), Err(LineError::TooLong)]
        );
    }

    #[test]
    fn iac_bytes_count_towards_the_limit() {
        // Three IAC IAC pairs decode to 3 bytes but count as 6: with CR LF that is 8 > 7.
        assert_eq!(
            read_all(7, b"\xff\xff\xff\xff\xff\xff\r\n"),
            vec![Err(LineError::TooLong)]
        );
        assert_eq!(
            read_all(7, b"\xff\xff\xff\xff\xff\xff\n"),
            vec![ok(b"\xff\xff\xff")]
        );
    }

    #[test]
    fn nul_rejects_the_line_and_the_next_one_is_fine() {
        assert_eq!(
            read_all(4096, b"RETR a\0b\r\nNOOP\r\n"),
            vec![Err(LineError::ContainsNul), ok(b"NOOP")]
        );
        // Telnet's CR NUL (a bare CR) is a NUL too.
        assert_eq!(
            read_all(4096, b"CWD a\r\0b\r\n"),
            vec![Err(LineError::ContainsNul)]
        );
    }

    #[test]
    fn nul_inside_an_overlong_line_is_not_reported_twice() {
        let mut input = vec![0u8; 20];
        input.extend_from_slice(b"\nNOOP\n");
        assert_eq!(
            read_all(8, &input),
            vec![Err(LineError::TooLong), ok(b"NOOP")]
        );
    }

    #[test]
    fn errors_carry_vsftpd_style_replies() {
        assert_eq!(LineError::TooLong.reply(), replies::INPUT_LINE_TOO_LONG);
        assert_eq!(LineError::TooLong.reply().code, 500);
        assert_eq!(LineError::ContainsNul.reply().code, 500);
    }

    #[test]
    fn consumed_input_is_reclaimed() {
        let mut reader = LineReader::new(64);
        for _ in 0..10_000 {
            reader.push(b"NOOP\r\nNO");
            assert_eq!(reader.next_line(), Some(ok(b"NOOP")));
            assert_eq!(reader.next_line(), None);
            reader.push(b"OP\r\n");
            assert_eq!(reader.next_line(), Some(ok(b"NOOP")));
        }
        assert!(reader.input.capacity() < 1024);
    }
}
