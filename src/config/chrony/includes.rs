//! chrony.conf's `include` patterns and `confdir`/`sourcedir` directories: which files they name, in chronyd's order.

use super::*;

/// The files of an `include` pattern, found as chronyd's glob(3) finds them but with `*` as the
/// only wildcard, in the file name only. A name without `*` must exist (reading it reports
/// otherwise); a pattern with `*` may match nothing, but its directory must exist, as for
/// chronyd.
pub(super) fn expand_include_pattern(pattern: &str) -> Result<Vec<PathBuf>, String> {
    let (dir_prefix, file_pattern) = match pattern.rfind('/') {
        Some(slash) => pattern.split_at(slash + 1),
        None => ("", pattern),
    };
    if dir_prefix.contains('*') {
        return Err(format!(
            "`*` is supported in the file name only, not in the directories of `{pattern}`"
        ));
    }
    if !file_pattern.contains('*') {
        return Ok(vec![PathBuf::from(pattern)]);
    }
    let dir = Path::new(if dir_prefix.is_empty() {
        "."
    } else {
        dir_prefix
    });
    if !dir.is_dir() {
        return Err(format!(
            "cannot search for files matching `{pattern}`: {} is not a directory",
            dir.display()
        ));
    }
    let mut matches = Vec::new();
    for name in list_dir(dir)? {
        let path = Path::new(dir_prefix).join(&name);
        if matches_file_pattern(file_pattern, &name) && !path.is_dir() {
            matches.push(path);
        }
    }
    matches.sort();
    Ok(matches)
}

/// The files matching `pattern` (`*.conf` for `confdir DIR...`, `*.sources` for `sourcedir`),
/// ordered by file name; where several directories hold the same name, the one listed first
/// wins. Missing directories add nothing, as for chronyd.
pub(super) fn directory_files(d: &Directive, pattern: &str) -> Result<Vec<PathBuf>, ConfigError> {
    if d.args.is_empty() || d.args.len() > MAX_CONFDIR_DIRECTORIES {
        return Err(d.error(format!(
            "expected 1 to {MAX_CONFDIR_DIRECTORIES} directories, found {}",
            d.args.len()
        )));
    }
    let mut by_name = BTreeMap::new();
    for dir in d.args.iter().map(Path::new).filter(|dir| dir.is_dir()) {
        for name in list_dir(dir).map_err(|message| d.error(message))? {
            let path = dir.join(&name);
            if matches_file_pattern(pattern, &name) && !path.is_dir() {
                by_name.entry(name).or_insert(path);
            }
        }
    }
    Ok(by_name.into_values().collect())
}

pub(super) fn list_dir(dir: &Path) -> Result<Vec<std::ffi::OsString>, String> {
    let cannot_list = |err: std::io::Error| format!("cannot list {}: {err}", dir.display());
    fs::read_dir(dir)
        .map_err(cannot_list)?
        .map(|entry| entry.map(|entry| entry.file_name()).map_err(cannot_list))
        .collect()
}

/// glob(3)'s `*` and `?` for one file name, where a leading dot is matched only by a
/// pattern that starts with one.
pub(super) fn matches_file_pattern(pattern: &str, name: &OsStr) -> bool {
    let (pattern, name) = (pattern.as_bytes(), name.as_encoded_bytes());
    if name.first() == Some(&b'.') && pattern.first() != Some(&b'.') {
        return false;
    }
    crate::wildcard::matches(pattern, name)
}
