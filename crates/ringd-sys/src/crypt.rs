//! crypt(3) and crypt_gensalt(3) from libxcrypt for the FTP users file, and the random bytes its salts take.
//!
//! libxcrypt's libcrypt.so.1 comes with the runtime package libcrypt1; no -dev package is needed
//! because the library is named verbatim rather than through the libcrypt.so symlink.

use std::ffi::{CStr, CString};
use std::io;

fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "a passphrase or setting contains a NUL byte",
        )
    })
}

/// `sizeof(struct crypt_data)` in libxcrypt: output 384 + setting 384 + input 512 +
/// reserved 767 + initialized 1 + internal 30720.
const CRYPT_DATA_SIZE: usize = 32768;
/// `CRYPT_GENSALT_OUTPUT_SIZE`.
const CRYPT_GENSALT_OUTPUT_SIZE: usize = 192;
/// `CRYPT_MAX_PASSPHRASE_SIZE`: longer passphrases are refused by libxcrypt.
pub const CRYPT_MAX_PASSPHRASE_SIZE: usize = 512;

#[link(name = "libcrypt.so.1", kind = "dylib", modifiers = "+verbatim")]
extern "C" {
    fn crypt_rn(
        phrase: *const libc::c_char,
        setting: *const libc::c_char,
        data: *mut libc::c_void,
        size: libc::c_int,
    ) -> *mut libc::c_char;
    fn crypt_gensalt_rn(
        prefix: *const libc::c_char,
        count: libc::c_ulong,
        rbytes: *const libc::c_char,
        nrbytes: libc::c_int,
        output: *mut libc::c_char,
        output_size: libc::c_int,
    ) -> *mut libc::c_char;
}

/// 64-byte aligned scratch for `struct crypt_data` (libxcrypt only needs byte alignment; the
/// extra alignment costs nothing and suits the hashing code's internal casts).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct CryptChunk([u8; 64]);

/// crypt(3) through the reentrant `crypt_rn`: hashes `phrase` with the method, cost and salt
/// that `setting` (a full hash or a `crypt_gensalt` result) names. An unsupported or malformed
/// setting is an `InvalidInput` error, never a failure token.
pub fn crypt(phrase: &[u8], setting: &str) -> io::Result<String> {
    if phrase.len() >= CRYPT_MAX_PASSPHRASE_SIZE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "passphrase longer than crypt(3) accepts",
        ));
    }
    let phrase = cstring(phrase)?;
    let setting = cstring(setting.as_bytes())?;
    let mut data = vec![CryptChunk([0; 64]); CRYPT_DATA_SIZE / 64];
    // SAFETY: both strings are NUL-terminated; `data` is zeroed, writable, suitably aligned and
    // CRYPT_DATA_SIZE bytes long, which is passed so libxcrypt checks it. The result points
    // into `data` (or is NULL), and is copied out below before `data` is dropped.
    let out = unsafe {
        crypt_rn(
            phrase.as_ptr(),
            setting.as_ptr(),
            data.as_mut_ptr().cast(),
            CRYPT_DATA_SIZE as libc::c_int,
        )
    };
    let result = if out.is_null() {
        Err(io::Error::last_os_error())
    } else {
        // SAFETY: a non-NULL result is a NUL-terminated string inside `data`, still alive.
        let text = unsafe { CStr::from_ptr(out) };
        match text.to_str() {
            Ok(s) if !s.starts_with('*') && !s.is_empty() => Ok(s.to_owned()),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "crypt(3) does not support this hash",
            )),
        }
    };
    // Best effort: do not leave password-derived state in freed memory.
    data.fill(CryptChunk([0; 64]));
    std::hint::black_box(&data);
    match result {
        Err(e)
            if e.raw_os_error() == Some(libc::EINVAL) || e.raw_os_error() == Some(libc::ERANGE) =>
        {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "crypt(3) does not support this hash",
            ))
        }
        other => other,
    }
}

/// crypt_gensalt(3) through `crypt_gensalt_rn`: a setting string for method `prefix` (`"$y$"`,
/// `"$6$"`, ...) at cost `count` (0: the method's default) from the random bytes given.
/// An unsupported method is an `InvalidInput` error.
pub fn crypt_gensalt(prefix: &str, count: u64, random: &[u8]) -> io::Result<String> {
    let prefix = cstring(prefix.as_bytes())?;
    let mut output = [0 as libc::c_char; CRYPT_GENSALT_OUTPUT_SIZE];
    // SAFETY: `prefix` is NUL-terminated; `random` is readable for the length passed; `output`
    // is writable for the size passed. All outlive the call; the result points into `output`.
    let out = unsafe {
        crypt_gensalt_rn(
            prefix.as_ptr(),
            count as libc::c_ulong,
            random.as_ptr().cast(),
            random.len() as libc::c_int,
            output.as_mut_ptr(),
            output.len() as libc::c_int,
        )
    };
    if out.is_null() {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("crypt_gensalt(3) cannot make a setting for this method: {err}"),
        ));
    }
    // SAFETY: a non-NULL result is a NUL-terminated string inside `output`, still alive.
    let text = unsafe { CStr::from_ptr(out) };
    match text.to_str() {
        Ok(s) if !s.starts_with('*') && !s.is_empty() => Ok(s.to_owned()),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "crypt_gensalt(3) cannot make a setting for this method",
        )),
    }
}

/// Fills `buf` from the kernel's CSPRNG (getrandom(2), blocking only until it is seeded).
pub fn fill_random(buf: &mut [u8]) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        match rustix::rand::getrandom(&mut buf[done..], rustix::rand::GetRandomFlags::empty()) {
            Ok(n) => done += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crypt_matches_mkpasswd_output() {
        // `mkpasswd -m yescrypt`, `-m sha-512` and `-m sha-256`, password "secret pw".
        for hash in [
            "$y$j9T$uAjoe6rC6fLCyM3DZzWA5.$5dpfEi9tZV.4MYEukAHeiV3Tf9KQcX7cK/zH4Yj1yw/",
            "$6$1v2YXdUz90De8wv8$K.BsBkculDiY8Eo6QwdEeNsXlROOceVV8m736znMVyW81CZ5wXxX77eyJMF0faT54yA6/StJavfs/8URYlMII.",
            "$5$qZXHqyCfr6P5pe7Q$4R6WpWOl7TZgRjNlauwa2RMz7PH6Sje8Fz9PHAT5p01",
        ] {
            assert_eq!(crypt(b"secret pw", hash).unwrap(), hash);
            assert_ne!(crypt(b"secret pW", hash).unwrap(), hash);
        }
        let err = crypt(b"x", "$unknown$salt$").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(crypt(&[b'a'; 600], "$6$salt").is_err());
    }

    #[test]
    fn gensalt_makes_settings() {
        let mut random = [0u8; 16];
        fill_random(&mut random).unwrap();
        let y = crypt_gensalt("$y$", 0, &random).unwrap();
        assert!(y.starts_with("$y$j9T$"), "{y}");
        let six = crypt_gensalt("$6$", 0, &random).unwrap();
        assert!(six.starts_with("$6$"), "{six}");
        let hash = crypt(b"pw", &six).unwrap();
        assert_eq!(crypt(b"pw", &hash).unwrap(), hash);
        assert!(crypt_gensalt("$nope$", 0, &random).is_err());
    }
}
