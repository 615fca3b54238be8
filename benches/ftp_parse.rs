//! The FTP control path without I/O: framing and parsing a typical command mix, formatting listings.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ringd::ftp::command;
use ringd::ftp::listing::{self, EntryInfo, EntryKind, FactSet, Owners};
use ringd::ftp::replies;
use ringd::ftp::telnet::{LineReader, VSFTPD_MAX_COMMAND_LINE};

/// What one anonymous download session sends, plus a few listing and upload commands.
const SESSION: &[u8] = b"USER anonymous\r\nPASS guest@example.com\r\nSYST\r\nFEAT\r\nPWD\r\n\
TYPE I\r\nCWD /pub/releases\r\nEPSV\r\nLIST -la\r\nPASV\r\nSIZE ringd-1.0.tar.gz\r\n\
MDTM ringd-1.0.tar.gz\r\nREST 1048576\r\nRETR ringd-1.0.tar.gz\r\nPORT 192,168,10,1,195,80\r\n\
EPRT |2|2001:db8::1|50000|\r\nSTOR upload/notes.txt\r\nMKD upload/new\r\nNOOP\r\nQUIT\r\n";

fn entries(count: usize) -> Vec<EntryInfo> {
    (0..count)
        .map(|index| EntryInfo {
            name: format!("file-{index:05}.dat").into_bytes(),
            kind: if index % 10 == 0 {
                EntryKind::Dir
            } else {
                EntryKind::File
            },
            mode: if index % 10 == 0 {
                0o040_755
            } else {
                0o100_644
            },
            nlink: 1,
            uid: 1000,
            gid: 1000,
            owner: None,
            group: None,
            size: index as u64 * 4096,
            mtime: 1_700_000_000 - index as i64 * 3600,
            dev: 0x803,
            ino: index as u64,
        })
        .collect()
}

fn control_path(c: &mut Criterion) {
    let commands = SESSION
        .split(|&byte| byte == b'\n')
        .filter(|line| !line.is_empty())
        .count() as u64;
    let mut group = c.benchmark_group("ftp_control");
    group.throughput(Throughput::Elements(commands));
    group.bench_function("frame_and_parse_session", |b| {
        let mut reader = LineReader::new(VSFTPD_MAX_COMMAND_LINE);
        let mut replies_out = Vec::with_capacity(4096);
        b.iter(|| {
            reader.push(black_box(SESSION));
            replies_out.clear();
            while let Some(line) = reader.next_line() {
                let line = line.expect("well-formed session");
                match command::parse(&line) {
                    Ok(parsed) => {
                        black_box(parsed);
                        replies::NOOP_OK.encode(&mut replies_out);
                    }
                    Err(error) => error.reply().encode(&mut replies_out),
                }
            }
            black_box(&replies_out);
        });
    });
    group.finish();
}

fn listings(c: &mut Criterion) {
    let entries = entries(1000);
    let now = 1_700_000_000;
    let mut group = c.benchmark_group("ftp_listing");
    group.throughput(Throughput::Elements(entries.len() as u64));
    group.bench_function("ls_long_1000", |b| {
        let mut out = Vec::with_capacity(96 * entries.len());
        b.iter(|| {
            out.clear();
            for entry in &entries {
                listing::push_ls_long(&mut out, black_box(entry), now, Owners::Names, false);
                out.extend_from_slice(b"\r\n");
            }
            black_box(&out);
        });
    });
    group.bench_function("mlsd_1000", |b| {
        let mut out = Vec::with_capacity(128 * entries.len());
        b.iter(|| {
            out.clear();
            for entry in &entries {
                out.extend_from_slice(&listing::mlsx_facts(black_box(entry), "r", FactSet::ALL));
                out.extend_from_slice(b"\r\n");
            }
            black_box(&out);
        });
    });
    group.bench_function("sort_and_filter_1000", |b| {
        let options = listing::parse_list_args(b"-la *.dat", listing::ListKind::List);
        b.iter(|| {
            let mut shown: Vec<EntryInfo> = entries
                .iter()
                .filter(|entry| options.includes(&entry.name, Some(b"*{0,2,4}.dat"), false))
                .cloned()
                .collect();
            listing::sort_entries(&mut shown, &options);
            black_box(shown);
        });
    });
    group.finish();
}

criterion_group!(benches, control_path, listings);
criterion_main!(benches);
