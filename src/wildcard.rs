//! `*` and `?` wildcards, the one matcher behind vsftpd's globs, tcp_wrappers' host patterns and chrony's `include` patterns.

/// Whether all of `name` matches `pattern`: `*` any run, `?` one UTF-8 character (one byte
/// where the bytes are not UTF-8), every other byte itself.
pub fn matches(pattern: &[u8], name: &[u8]) -> bool {
    matches_by(pattern, name, char_len)
}

/// Like [`matches`], but `?` is always one byte, as in vsftpd, which knows nothing of
/// encodings: `caf?` matches `caf\xe9` (Latin-1) but not `café` in UTF-8 (two bytes after
/// `caf`), which takes `caf??`.
pub fn matches_bytes(pattern: &[u8], name: &[u8]) -> bool {
    matches_by(pattern, name, |_| 1)
}

/// The matcher, with `unit` the length of what `?` takes at the start of its argument.
/// Backtracks to the last `*`, so it takes at most len(pattern) * len(name) steps.
fn matches_by(pattern: &[u8], name: &[u8], unit: fn(&[u8]) -> usize) -> bool {
    let (mut at_pattern, mut at_name) = (0, 0);
    // Where the last `*` was, and where in the name it would next resume.
    let mut last_star: Option<(usize, usize)> = None;
    while at_name < name.len() {
        match pattern.get(at_pattern) {
            Some(b'*') => {
                last_star = Some((at_pattern, at_name));
                at_pattern += 1;
                continue;
            }
            Some(b'?') => {
                at_pattern += 1;
                at_name += unit(&name[at_name..]);
                continue;
            }
            Some(&byte) if byte == name[at_name] => {
                at_pattern += 1;
                at_name += 1;
                continue;
            }
            _ => {}
        }
        let Some((star, resume)) = last_star else {
            return false;
        };
        // Let the last `*` swallow one more unit and retry from there.
        let resume = resume + unit(&name[resume..]);
        last_star = Some((star, resume));
        at_pattern = star + 1;
        at_name = resume;
    }
    pattern[at_pattern..].iter().all(|&byte| byte == b'*')
}

/// Length of the UTF-8 character starting `bytes`, or 1 if they do not start one.
fn char_len(bytes: &[u8]) -> usize {
    let expected = match bytes.first() {
        Some(0xC2..=0xDF) => 2,
        Some(0xE0..=0xEF) => 3,
        Some(0xF0..=0xF4) => 4,
        _ => return 1,
    };
    match bytes.get(..expected) {
        Some(sequence) if std::str::from_utf8(sequence).is_ok() => expected,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_and_question_marks() {
        assert!(matches(b"*", b""));
        assert!(matches(b"*.conf", b"a.conf"));
        assert!(!matches(b"*.conf", b"a.conf.bak"));
        assert!(matches(b"*.mp3", b"a.mp3.mp3"));
        assert!(matches(b"a?c", b"abc"));
        assert!(!matches(b"a?c", b"ac"));
        assert!(matches(b"?", "é".as_bytes()));
        assert!(matches(b"?", b"\xff"));
        assert!(matches(b"*.example.*", b"host.example.org"));
        assert!(!matches(b"abc", b"ab"));
        assert!(matches(b"10.4.*.1?", b"10.4.77.12"));
        assert!(matches(b"a*b*c", b"axxbyyc"));
        assert!(!matches(b"a*b*c", b"axxbyy"));
        assert!(!matches(b"?", b""));
    }

    #[test]
    fn byte_question_marks_take_one_byte_of_a_multi_byte_character() {
        let cafe = "café".as_bytes();
        assert!(!matches_bytes(b"caf?", cafe));
        assert!(matches_bytes(b"caf??", cafe));
        assert!(matches(b"caf?", cafe));
        assert!(!matches(b"caf??", cafe));
        assert!(matches_bytes(b"caf?", b"caf\xe9"));
        // A star backtracks a byte at a time, so it can stop inside a character.
        assert!(matches_bytes(b"*\xa9", cafe));
        assert!(!matches(b"*\xa9", cafe));
    }
}
