//! A server's memory as PSS of its whole process tree, from /proc (so forked session processes count, shared pages once).

use std::collections::HashMap;
use std::fs;
use std::io;

use serde::Serialize;

/// Deepest process tree followed (a bound against a malformed /proc).
const MAX_TREE_DEPTH: usize = 64;

/// PSS of a process tree at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TreeMemory {
    pub processes: usize,
    pub pss_kib: u64,
}

/// The parent pid from the text of /proc/PID/stat. The command name (field 2) may hold spaces
/// and parentheses, so the fields are counted from its last ')'.
fn parent_of(stat: &str) -> Option<u32> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

/// The `Pss:` line of /proc/PID/smaps_rollup, KiB.
fn pss_from_rollup(rollup: &str) -> Option<u64> {
    rollup
        .lines()
        .find_map(|line| line.strip_prefix("Pss:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

/// `root` and all its descendants.
pub fn process_tree(root: u32) -> io::Result<Vec<u32>> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for entry in fs::read_dir("/proc")? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // Processes may exit between the listing and the read: skipping them is right.
        if let Some(parent) = fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .as_deref()
            .and_then(parent_of)
        {
            children.entry(parent).or_default().push(pid);
        }
    }
    let mut tree = vec![root];
    let mut generation = vec![root];
    for _ in 0..MAX_TREE_DEPTH {
        let next: Vec<u32> = generation
            .iter()
            .flat_map(|pid| children.get(pid).into_iter().flatten().copied())
            .collect();
        if next.is_empty() {
            break;
        }
        tree.extend(&next);
        generation = next;
    }
    Ok(tree)
}

/// PSS of `root` and its descendants. Fails when `root` itself cannot be read.
pub fn tree_memory(root: u32) -> io::Result<TreeMemory> {
    let tree = process_tree(root)?;
    let mut memory = TreeMemory {
        processes: 0,
        pss_kib: 0,
    };
    for pid in tree {
        let rollup = match fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) {
            Ok(rollup) => rollup,
            Err(error) if pid == root => return Err(error),
            Err(_) => continue,
        };
        if let Some(pss) = pss_from_rollup(&rollup) {
            memory.processes += 1;
            memory.pss_kib += pss;
        }
    }
    Ok(memory)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parent_is_read_past_a_tricky_command_name() {
        assert_eq!(parent_of("42 (a) b (c)) S 7 42 42 0"), Some(7));
        assert_eq!(parent_of("42 (ringd) S 1 42"), Some(1));
        assert_eq!(parent_of("garbage"), None);
    }

    #[test]
    fn pss_comes_from_its_line() {
        let rollup = "00400000-7fff [rollup]\nRss:   2048 kB\nPss:    1024 kB\nPss_Anon: 10 kB\n";
        assert_eq!(pss_from_rollup(rollup), Some(1024));
        assert_eq!(pss_from_rollup("Rss: 1 kB"), None);
    }

    #[test]
    fn this_process_and_a_child_are_measured() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("sleep runs");
        let tree = process_tree(std::process::id()).unwrap();
        assert!(tree.contains(&child.id()));
        let memory = tree_memory(std::process::id()).unwrap();
        assert!(memory.processes >= 2 && memory.pss_kib > 0, "{memory:?}");
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
