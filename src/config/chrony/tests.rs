use super::*;
use crate::config::chrony_logs::MeasurementLog;
use crate::test_dirs::TempDir;

fn parse(text: &str) -> NtpConfig {
    parse_str(text, "test.conf").unwrap()
}

fn error(text: &str) -> String {
    parse_str(text, "test.conf").unwrap_err().to_string()
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn data_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/chrony")
        .join(name)
}

/// A path as chrony.conf text and ringd's messages show it.
fn shown(path: PathBuf) -> String {
    path.display().to_string()
}

#[test]
fn user_names_who_an_ntp_only_ringd_becomes() {
    let config = parse("user _chrony\n");
    assert_eq!(config.user.as_deref(), Some("_chrony"));
    assert!(config.to_string().contains("user _chrony\n"));
    assert_eq!(parse("").user, None);
}

#[test]
fn empty_file_gives_chrony_defaults() {
    let config = parse("");
    assert_eq!(config.origin, "test.conf");
    assert_eq!(config.port, 123);
    assert_eq!(config.bind_addresses, [ip("0.0.0.0"), ip("::")]);
    assert_eq!(config.local, None);
    assert_eq!(config.ratelimit, None);
    assert_eq!(config.client_log_limit, 524_288);
    assert!(!config.no_client_log);
    assert!(config.deferred.is_empty());
    assert!(!config.access.is_allowed(ip("127.0.0.1")));
    assert!(!config.access.is_allowed(ip("::1")));
    assert_eq!(config.upstream_note(), None);
}

#[test]
fn comments_blank_lines_white_space_and_case() {
    let config = parse(
        "# hash\n! bang\n; semicolon\n% percent\n   # indented\n\n \t \n\
             PORT\t1234\r\n  BindAddress   127.0.0.1  \nAllow 10/8\n",
    );
    assert_eq!(config.port, 1234);
    assert_eq!(config.bind_addresses, [ip("127.0.0.1")]);
    assert!(config.access.is_allowed(ip("10.1.2.3")));
    // As in chrony, `#` starts a comment only at the beginning of a line.
    assert_eq!(
        error("port 1 # trailing"),
        "test.conf:1: port: expected only a port number 0..65535, found another argument `#`"
    );
}

#[test]
fn port() {
    assert_eq!(parse("port 0").port, 0);
    assert_eq!(parse("port 123\nport 65535").port, 65535);
    assert_eq!(
        error("port 65536"),
        "test.conf:1: port: expected a port number 0..65535, found `65536`"
    );
    assert_eq!(
        error("port"),
        "test.conf:1: port: expected a port number 0..65535, found nothing"
    );
    assert_eq!(
        error("\nport http"),
        "test.conf:2: port: expected a port number 0..65535, found `http`"
    );
}

#[test]
fn bindaddress_is_repeatable_for_both_families() {
    let config = parse(
        "bindaddress 192.0.2.1\nbindaddress 2001:db8::1\nbindaddress 192.0.2.1\n\
             bindaddress 198.51.100.1",
    );
    assert_eq!(
        config.bind_addresses,
        [ip("192.0.2.1"), ip("2001:db8::1"), ip("198.51.100.1")]
    );
    assert_eq!(
        error("bindaddress localhost"),
        "test.conf:1: bindaddress: expected an IPv4 or IPv6 address (not a host name), \
             found `localhost`"
    );
    assert_eq!(
        error("bindaddress"),
        "test.conf:1: bindaddress: expected an IPv4 or IPv6 address (not a host name), \
             found nothing"
    );
}

#[test]
fn allow_and_deny_forms() {
    let config = parse(
        "allow 192.0.2.1\nallow 198.51.100.0/24\nallow 203.0\nallow 10\nallow 172.16.5\n\
             allow 100.64/10\nallow 2001:db8::/32\ndeny 2001:db8:1::/48\ndeny 10.9.9.9\n",
    );
    let access = &config.access;
    assert!(access.is_allowed(ip("192.0.2.1")));
    assert!(!access.is_allowed(ip("192.0.2.2")));
    assert!(access.is_allowed(ip("198.51.100.200")));
    assert!(access.is_allowed(ip("203.0.200.1")));
    assert!(!access.is_allowed(ip("203.1.0.1")));
    assert!(access.is_allowed(ip("10.200.0.1")));
    assert!(!access.is_allowed(ip("10.9.9.9")));
    assert!(access.is_allowed(ip("172.16.5.9")));
    assert!(!access.is_allowed(ip("172.16.6.9")));
    assert!(access.is_allowed(ip("100.127.0.1")));
    assert!(!access.is_allowed(ip("100.128.0.1")));
    assert!(access.is_allowed(ip("2001:db8:2::1")));
    assert!(!access.is_allowed(ip("2001:db8:1::1")));
    assert!(access.is_allowed(ip("::ffff:192.0.2.1")));
}

#[test]
fn allow_without_address_and_all_forms() {
    let everything = parse("allow");
    assert!(everything.access.is_allowed(ip("192.0.2.1")));
    assert!(everything.access.is_allowed(ip("2001:db8::1")));

    let ipv4_only = parse("allow 0/0");
    assert!(ipv4_only.access.is_allowed(ip("192.0.2.1")));
    assert!(!ipv4_only.access.is_allowed(ip("2001:db8::1")));

    let override_earlier = parse("deny 10.1.1.1\nallow all 10/8");
    assert!(override_earlier.access.is_allowed(ip("10.1.1.1")));
    let kept_without_all = parse("deny 10.1.1.1\nallow 10/8");
    assert!(!kept_without_all.access.is_allowed(ip("10.1.1.1")));

    let deny_all = parse("allow 192.0.2.0/24\nallow 2001:db8::/32\ndeny all");
    assert!(!deny_all.access.is_allowed(ip("192.0.2.1")));
    assert!(!deny_all.access.is_allowed(ip("2001:db8::1")));
    assert_eq!(deny_all.access.rules().count(), 2);
}

#[test]
fn allow_hostname_is_resolved_once() {
    let config = parse("allow localhost");
    let rules: Vec<_> = config.access.rules().collect();
    assert_eq!(rules.len(), 1);
    let (subnet, allow) = rules[0];
    assert!(allow && subnet.addr.is_loopback(), "{subnet}");
    assert!(config.access.is_allowed(subnet.addr));
}

#[test]
fn allow_deny_errors() {
    assert_eq!(
        error("allow 300.1"),
        "test.conf:1: allow: `300.1`: each number of a shortened network must be 0..255"
    );
    assert_eq!(
        error("allow 192.0.2.0/33"),
        "test.conf:1: allow: prefix length /33 in `192.0.2.0/33` is too long for an IPv4 \
             address (at most /32)"
    );
    assert_eq!(
        error("deny 2001:db8::/129"),
        "test.conf:1: deny: prefix length /129 in `2001:db8::/129` is too long for an IPv6 \
             address (at most /128)"
    );
    assert_eq!(
        error("allow 192.0.2.0/x"),
        "test.conf:1: allow: expected a prefix length after `/` in `192.0.2.0/x`, found `x`"
    );
    assert_eq!(
        error("allow ntp.example/24"),
        "test.conf:1: allow: `ntp.example/24` is neither ADDRESS/PREFIX nor a shortened \
             network such as 192.168/16"
    );
    assert_eq!(
        error("allow 192.0.2.1 192.0.2.2"),
        "test.conf:1: allow: expected [all] [ADDRESS[/PREFIX] | NETWORK | HOSTNAME], found \
             another argument `192.0.2.2`"
    );
    assert_eq!(
        error("\ndeny all 10/8 x"),
        "test.conf:2: deny: expected [all] [ADDRESS[/PREFIX] | NETWORK | HOSTNAME], found \
             another argument `x`"
    );
    let unresolvable = error("allow no-such-host.invalid");
    assert!(
        unresolvable
            .starts_with("test.conf:1: allow: cannot resolve host name `no-such-host.invalid` ("),
        "{unresolvable}"
    );
    assert!(
        unresolvable.ends_with(
            "); use an address or a subnet, or make the name resolvable when ringd starts"
        ),
        "{unresolvable}"
    );
}

#[test]
fn local() {
    assert_eq!(parse("local").local, Some(LocalStratum::default()));
    assert_eq!(
        parse("local stratum 3 orphan distance 0.5").local,
        Some(LocalStratum {
            stratum: 3,
            orphan: true,
            distance: 0.5
        })
    );
    assert_eq!(
        parse("LOCAL Stratum 15 DISTANCE 0").local,
        Some(LocalStratum {
            stratum: 15,
            orphan: false,
            distance: 0.0
        })
    );
    // A later `local` starts again from chrony's defaults.
    assert_eq!(
        parse("local stratum 5 orphan\nlocal").local,
        Some(LocalStratum::default())
    );
}

#[test]
fn local_errors() {
    assert_eq!(
        error("local stratum 0"),
        "test.conf:1: local: expected an integer 1..15 after `stratum`, found `0`"
    );
    assert_eq!(
        error("local stratum 16"),
        "test.conf:1: local: expected an integer 1..15 after `stratum`, found `16`"
    );
    assert_eq!(
        error("local orphan stratum"),
        "test.conf:1: local: expected an integer 1..15 after `stratum`, found nothing"
    );
    assert_eq!(
        error("local distance -1"),
        "test.conf:1: local: expected a number of seconds (0 or more) after `distance`, \
             found `-1`"
    );
    for option in ["activate", "waitsynced", "waitunsynced"] {
        assert_eq!(
            error(&format!("local stratum 10 {option} 0.5")),
            format!(
                "test.conf:1: local: option `{option}` is not supported yet: ringd's local \
                     reference is active from start-up; remove the option"
            )
        );
    }
    assert_eq!(
        error("local stratum 10 foo"),
        "test.conf:1: local: unknown option `foo`; expected stratum N, orphan or distance D"
    );
}

#[test]
fn ratelimit() {
    assert_eq!(
        parse("ratelimit").ratelimit,
        Some(RateLimitSettings::default())
    );
    assert_eq!(
        RateLimitSettings::default(),
        RateLimitSettings {
            interval: 3,
            burst: 8,
            leak: 2,
            kod: 0
        }
    );
    assert_eq!(
        parse("ratelimit kod 2 interval -4 BURST 16").ratelimit,
        Some(RateLimitSettings {
            interval: -4,
            burst: 16,
            leak: 2,
            kod: 2
        })
    );
    // As in chronyd, a second `ratelimit` keeps what it does not name.
    assert_eq!(
        parse("ratelimit interval 1\nratelimit leak 3").ratelimit,
        Some(RateLimitSettings {
            interval: 1,
            burst: 8,
            leak: 3,
            kod: 0
        })
    );
    assert_eq!(
        parse("ratelimit interval -19 burst 1 leak 4 kod 4\nratelimit interval 12 burst 32")
            .ratelimit,
        Some(RateLimitSettings {
            interval: 12,
            burst: 32,
            leak: 4,
            kod: 4
        })
    );
}

#[test]
fn ratelimit_errors() {
    assert_eq!(
        error("ratelimit interval 1 kod"),
        "test.conf:1: ratelimit: expected an integer after `kod`, found nothing"
    );
    assert_eq!(
        error("ratelimit burst x"),
        "test.conf:1: ratelimit: expected an integer after `burst`, found `x`"
    );
    assert_eq!(
        error("ratelimit rate 3"),
        "test.conf:1: ratelimit: unknown option `rate`; expected interval, burst, leak or \
             kod, each followed by an integer"
    );
}

#[test]
fn client_log() {
    assert_eq!(parse("clientloglimit 1048576").client_log_limit, 1_048_576);
    assert!(parse("noclientlog").no_client_log);
    assert_eq!(
        error("clientloglimit -1"),
        "test.conf:1: clientloglimit: expected a size in bytes, found `-1`"
    );
    assert_eq!(
        error("noclientlog yes"),
        "test.conf:1: noclientlog: takes no arguments, found `yes`"
    );
}

#[test]
fn bindcmdaddress_with_a_path_places_the_control_socket() {
    let config = parse("bindcmdaddress /run/chrony/chronyd.sock");
    assert_eq!(
        config.control_socket,
        Some(PathBuf::from("/run/chrony/chronyd.sock"))
    );
    assert!(config.deferred.is_empty());
    assert!(config
        .to_string()
        .contains("\nbindcmdaddress /run/chrony/chronyd.sock\n"));
    // An address is for chronyd's UDP command port, which ringd does not have.
    let address = parse("bindcmdaddress 127.0.0.1");
    assert_eq!(address.control_socket, None);
    assert_eq!(address.deferred[0].name, "bindcmdaddress");
    assert_eq!(
        error("bindcmdaddress /a /b"),
        "test.conf:1: bindcmdaddress: expected only a socket path, found another argument `/b`"
    );
}

#[test]
fn keyfile_and_the_nts_server_directives_are_read_with_chronyds_defaults() {
    let defaults = parse("keyfile /etc/chrony.keys");
    assert_eq!(
        defaults.auth.keyfile.as_deref(),
        Some(Path::new("/etc/chrony.keys"))
    );
    assert_eq!(defaults.auth.nts_server(), None);
    assert_eq!(defaults.auth.nts_port, 4460);
    assert_eq!(defaults.auth.max_nts_connections, 100);
    assert_eq!(defaults.auth.nts_rotate.as_secs(), 604_800);
    let nts = parse(
        "ntsservercert /etc/a.crt\nntsserverkey /etc/a.key\nntsservercert /etc/b.crt\n\
         ntsserverkey /etc/b.key\nntsport 14460\nmaxntsconnections 5\nntsrotate -1\n\
         ntsdumpdir /var/lib/chrony\nntsntpserver ntp.example\nntsprocesses 4",
    );
    let auth = &nts.auth;
    assert_eq!(
        auth.nts_server(),
        Some((&PathBuf::from("/etc/a.crt"), &PathBuf::from("/etc/a.key")))
    );
    assert_eq!(
        (
            auth.nts_port,
            auth.max_nts_connections,
            auth.nts_rotate.as_secs()
        ),
        (14460, 5, 0),
        "a negative ntsrotate is no rotation, as in chronyd"
    );
    assert_eq!(auth.nts_ntp_server.as_deref(), Some("ntp.example"));
    let shown = nts.to_string();
    assert!(shown.contains("ntsport 14460\n"), "{shown}");
    assert!(
        shown.contains("# ntsprocesses 4: one NTS-KE thread"),
        "{shown}"
    );
    assert!(
        shown.contains("# ntsservercert: 2 certificates given"),
        "{shown}"
    );
    assert!(nts.deferred.is_empty());
}

#[test]
fn ratelimit_with_noclientlog_is_refused_in_either_order() {
    assert_eq!(
        error("ratelimit\nnoclientlog"),
        "test.conf:1: ratelimit: Rate limiting cannot be enabled with noclientlog \
             (at test.conf:2); remove one of the two"
    );
    assert_eq!(
        error("noclientlog\n\nratelimit burst 4"),
        "test.conf:3: ratelimit: Rate limiting cannot be enabled with noclientlog \
             (at test.conf:1); remove one of the two"
    );
}

#[test]
fn deferred_directives_are_recorded() {
    let lines = [
        "peer 192.0.2.9",
        "cmdport 0",
        "hwtimestamp *",
        "maxupdateskew 100.0",
        "dumpdir /var/lib/chrony",
        "rtconutc",
        "hwclockfile /etc/adjtime",
        "cmdallow 127.0.0.1",
        "cmddeny all",
        "bindcmdaddress 127.0.0.1",
        "authselectmode require",
        "sched_priority 1",
        "lock_all",
    ];
    let config = parse(&lines.join("\n"));
    assert_eq!(config.deferred.len(), lines.len());
    for (index, (deferred, line)) in config.deferred.iter().zip(lines).enumerate() {
        assert_eq!(deferred.file, "test.conf");
        assert_eq!(deferred.line, index + 1);
        assert_eq!(deferred.name, line.split(' ').next().unwrap());
        assert_eq!(deferred.text, line);
    }

    let mixed_case = parse("Peer \t 192.0.2.9   iburst ");
    assert_eq!(
        mixed_case.deferred,
        [DeferredDirective {
            file: "test.conf".to_string(),
            line: 1,
            name: "peer".to_string(),
            text: "Peer 192.0.2.9 iburst".to_string(),
        }]
    );
}

#[test]
fn client_side_directives_are_read() {
    let config = parse(
        "server ntp.example iburst minpoll 4 maxpoll 8 prefer\n\
             Pool 2.debian.pool.ntp.org iburst maxsources 3\n\
             server 127.0.0.1 port 11123 noselect\n\
             minsources 2\nmaxdistance 1.5\nmakestep 1.0 3\n\
             driftfile /var/lib/chrony/drift\nrtcsync\nleapsectz right/UTC",
    );
    let upstream = &config.upstream;
    assert_eq!(upstream.sources.len(), 3);
    let server = &upstream.sources[0];
    assert_eq!(server.host, "ntp.example");
    assert!(server.iburst && server.prefer && !server.pool);
    assert_eq!((server.min_poll, server.max_poll, server.port), (4, 8, 123));
    let pool = &upstream.sources[1];
    assert!(pool.pool);
    assert_eq!(pool.max_sources, 3);
    assert_eq!(upstream.sources[2].port, 11123);
    assert!(upstream.sources[2].no_select);
    assert_eq!(upstream.min_sources, 2);
    assert_eq!(upstream.max_distance, 1.5);
    assert_eq!(
        upstream.makestep,
        Some(crate::sync::discipline::MakeStep {
            threshold: 1.0,
            limit: 3
        })
    );
    assert_eq!(
        upstream.driftfile.as_deref(),
        Some(Path::new("/var/lib/chrony/drift"))
    );
    assert!(upstream.rtcsync);
    assert_eq!(
        upstream.leap_seconds,
        Some(chrony_upstream::LeapSecondSource::TimeZone(PathBuf::from(
            "/usr/share/zoneinfo/right/UTC"
        )))
    );
    assert!(config.deferred.is_empty());
}

#[test]
fn authenticated_sources_and_the_nts_client_directives_are_read_as_chronyd_reads_them() {
    use chrony_upstream::SourceAuthentication::{Key, Nts};
    let config = parse(
        "server a.example key 5\n\
         server b.example nts\n\
         server c.example nts ntsport 14460 certset 2 key 3\n\
         server d.example key -1\n\
         server e.example ntsport 14460\n\
         ntstrustedcerts /etc/ca.pem\nntstrustedcerts 2 /etc/ca.d\n\
         nosystemcert\nntsrefresh 3600",
    );
    let upstream = &config.upstream;
    let auth: Vec<_> = upstream.sources.iter().map(|s| s.authentication).collect();
    assert_eq!(
        auth,
        [
            Key(5),
            Nts {
                ke_port: 4460,
                cert_set: 0
            },
            // `nts` wins over `key`, as in chronyd's ntp_core.c.
            Nts {
                ke_port: 14460,
                cert_set: 2
            },
            // sscanf's %u takes -1 as 4294967295: chronyd says "Key 4294967295 is missing".
            Key(u32::MAX),
            chrony_upstream::SourceAuthentication::None,
        ]
    );
    assert_eq!(
        upstream.nts.trusted_certs,
        [
            (0, PathBuf::from("/etc/ca.pem")),
            (2, PathBuf::from("/etc/ca.d"))
        ]
    );
    assert!(upstream.nts.no_system_cert);
    assert_eq!(upstream.nts.refresh, 3600);
    assert!(config.deferred.is_empty(), "{:?}", config.deferred);
    assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
    assert!(config.warnings[0]
        .to_string()
        .ends_with("option `ntsport` is accepted and not acted on: only an `nts` source uses it"));
    let shown = config.to_string();
    assert!(
        shown.contains("server a.example port 123 minpoll 6 maxpoll 10 key 5\n"),
        "{shown}"
    );
    assert!(shown.contains(" nts ntsport 14460 certset 2\n"), "{shown}");
    assert!(
        shown.contains("ntstrustedcerts 2 /etc/ca.d\nnosystemcert\nntsrefresh 3600\n"),
        "{shown}"
    );
    assert_eq!(
        parse("server a.example nts").upstream.nts.refresh,
        2_419_200
    );
    for (line, expected) in [
        ("server a.example key 0", "`key 0` is not a key"),
        ("server a.example key one", "a key ID after `key`"),
        ("server a.example certset x", "a certificate set ID"),
        (
            "ntstrustedcerts x /etc/ca.pem",
            "a certificate set ID before the file",
        ),
        ("ntstrustedcerts", "ntstrustedcerts [SET-ID] FILE|DIRECTORY"),
        ("ntsrefresh soon", "a number of seconds"),
        ("nosystemcert yes", "takes no arguments"),
    ] {
        let message = error(line);
        assert!(message.contains(expected), "{line}: {message}");
    }
}

#[test]
fn bad_source_options_name_the_fix() {
    for (line, expected) in [
        (
            "server a.example interleave",
            "unknown option `interleave`, which chronyd 4.3 refuses too",
        ),
        (
            "server a.example maxdelay x",
            "a finite number after `maxdelay`",
        ),
        ("server a.example minpoll", "an integer poll exponent"),
        ("server", "expected a host name"),
        ("makestep 1.0", "makestep THRESHOLD LIMIT"),
        ("maxdistance NaN", "expected a finite distance"),
    ] {
        let err = parse_str(line, "test.conf").unwrap_err().to_string();
        assert!(err.contains("test.conf:1"), "{err}");
        assert!(err.contains(expected), "{line}: {err}");
    }
}

#[test]
fn upstream_note_names_what_is_served() {
    assert_eq!(
        parse("dumpdir /var/lib/chrony").upstream_note().unwrap(),
        "no `server` or `pool` line: ringd does not synchronise upstream and serves the \
             kernel's clock state (adjtimex, read-only) as set by the daemon that disciplines it"
    );
    assert_eq!(
        parse("dumpdir /var/lib/chrony\nlocal stratum 8")
            .upstream_note()
            .unwrap(),
        "no `server` or `pool` line: ringd does not synchronise upstream and serves the \
             system clock at local stratum 8"
    );
    assert_eq!(
        parse("server ntp.example\nhwtimestamp *\ndumpdir /var/lib")
            .upstream_note()
            .unwrap(),
        "recognised but not acted on yet: hwtimestamp, dumpdir"
    );
    assert_eq!(parse("server ntp.example").upstream_note(), None);
    assert_eq!(parse("local").upstream_note(), None);
}

#[test]
fn unknown_and_unsupported_directives() {
    assert_eq!(
        error("\n\nfrobnicate 1"),
        "test.conf:3: frobnicate: unknown directive; ringd reads chrony.conf directives \
             (see docs/ntp-config.md)"
    );
    assert_eq!(
        error("ptpdomain 0"),
        "test.conf:1: ptpdomain: a directive of chrony 4.4 or later, which chronyd 4.3 \
             refuses too; remove it or comment it out (see docs/ntp-config.md)"
    );
    assert_eq!(parse("LeapSecMode slew").deferred[0].name, "leapsecmode");
    assert_eq!(
        error("servr 192.0.2.1 iburst"),
        "test.conf:1: servr: unknown directive; ringd reads chrony.conf directives \
             (see docs/ntp-config.md)"
    );
}

#[test]
fn lines_that_are_not_configuration_are_not_quoted() {
    for line in [
        "root:$6$SECRETHASHVALUE:19000:0:99999:7:::",
        "-----BEGIN OPENSSH PRIVATE KEY-----",
        "127.0.0.1 localhost",
        "ghp_0123456789abcdefSECRET0123456789abcd",
        "pässwort",
    ] {
        let message = error(&format!("port 1\n{line}\n"));
        assert_eq!(
            message,
            "test.conf:2: not a chrony configuration line (contents not shown)"
        );
    }
    // Every chrony directive would be quoted, with room for a typo's extra letter.
    let known = NOT_ACTED_ON_DIRECTIVES
        .iter()
        .chain(LATER_CHRONY_DIRECTIVES)
        .chain(chrony_upstream::DIRECTIVES);
    for name in known {
        assert!(
            super::super::error::quotable_name(name, MAX_QUOTED_NAME),
            "{name}"
        );
        assert!(name.len() < MAX_QUOTED_NAME, "{name}");
    }
}

#[test]
fn display_prints_the_effective_settings() {
    let config = parse(
        "port 0\nbindaddress 192.0.2.1\nallow 192.0.2.0/24\ndeny 192.0.2.128/25\n\
             allow 10.0.0.0/8\nallow all 10.0.0.0/8\nallow 2001:db8::/32\nlocal stratum 7 orphan\n\
             ratelimit burst 16\nclientloglimit 1048576\nserver ntp.example iburst\n\
             makestep 0.5 -1\ndumpdir /var/lib/chrony\n",
    );
    assert_eq!(
        config.to_string(),
        "port 0\n\
             # port 0: ringd serves on an ephemeral port and reports it at start-up\n\
             bindaddress 192.0.2.1\n\
             allow 192.0.2.0/24\n\
             deny 192.0.2.128/25\n\
             allow 10.0.0.0/8\n\
             allow 2001:db8::/32\n\
             local stratum 7 orphan distance 1\n\
             ratelimit interval 3 burst 16 leak 2 kod 0\n\
             clientloglimit 1048576\n\
             server ntp.example port 123 minpoll 6 maxpoll 10 iburst\n\
             minsources 1\n\
             maxdistance 3\n\
             makestep 0.5 -1\n\
             # recognised, not acted on yet:\n\
             #   test.conf:13: dumpdir\n\
             # recognised but not acted on yet: dumpdir\n"
    );

    assert_eq!(
        parse("noclientlog\nallow").to_string(),
        "port 123\n\
             bindaddress 0.0.0.0\n\
             bindaddress ::\n\
             allow 0.0.0.0/0\n\
             allow ::/0\n\
             noclientlog\n"
    );
    assert_eq!(
        parse("").to_string(),
        "port 123\n\
             bindaddress 0.0.0.0\n\
             bindaddress ::\n\
             # no allow directive: the NTP port is not opened (as chronyd)\n\
             clientloglimit 524288\n"
    );
}

#[test]
fn demo_is_the_documented_built_in_setup() {
    let config = demo();
    assert_eq!(config.origin, "built-in demo");
    assert_eq!(config.port, 1123);
    assert_eq!(config.bind_addresses, [ip("127.0.0.1")]);
    assert_eq!(config.local, Some(LocalStratum::default()));
    assert!(config.access.is_allowed(ip("127.1.2.3")));
    assert!(!config.access.is_allowed(ip("192.0.2.1")));
    assert!(!config.access.is_allowed(ip("::1")));
    assert_eq!(config.upstream_note(), None);
    assert_eq!(
        config.to_string(),
        "port 1123\n\
             bindaddress 127.0.0.1\n\
             allow 127.0.0.0/8\n\
             local stratum 10 distance 1\n\
             clientloglimit 524288\n"
    );
}

#[test]
fn include_reads_files_and_patterns() {
    let dir = TempDir::new("chrony-conf");
    let single = shown(dir.write("single.conf", "port 1000\n"));
    dir.write("sub/b.conf", "allow 10/8\n");
    dir.write("sub/c.conf", "deny 10.1/16\n\ndumpdir /var/lib/chrony\n");
    dir.write("sub/.hidden.conf", "bogus\n");
    dir.write("sub/notes.txt", "bogus\n");
    fs::create_dir_all(dir.join("sub/dir.conf")).unwrap();
    let pattern = shown(dir.join("sub/*.conf"));
    let config = parse(&format!(
        "include {single}\ninclude {pattern}\ninclude {}",
        shown(dir.join("sub/*.none"))
    ));
    assert_eq!(config.port, 1000);
    assert!(config.access.is_allowed(ip("10.2.0.1")));
    assert!(!config.access.is_allowed(ip("10.1.0.1")));
    assert_eq!(config.deferred[0].file, shown(dir.join("sub/c.conf")));
    assert_eq!(config.deferred[0].line, 3);
}

#[test]
fn include_errors() {
    let dir = TempDir::new("chrony-conf");
    let bad = shown(dir.write("bad.conf", "\n\nport x\n"));
    assert_eq!(
        error(&format!("include {bad}")),
        format!("{bad}:3: port: expected a port number 0..65535, found `x`")
    );
    let missing = shown(dir.join("missing.conf"));
    assert_eq!(
        error(&format!("port 1\ninclude {missing}")),
        format!(
            "test.conf:2: include: cannot read {missing}: No such file or directory \
                 (os error 2)"
        )
    );
    let in_missing_dir = shown(dir.join("nodir/*.conf"));
    assert_eq!(
        error(&format!("include {in_missing_dir}")),
        format!(
            "test.conf:1: include: cannot search for files matching `{in_missing_dir}`: {} \
                 is not a directory",
            shown(dir.join("nodir/"))
        )
    );
    let star_in_dir = shown(dir.join("*/b.conf"));
    assert_eq!(
        error(&format!("include {star_in_dir}")),
        format!(
            "test.conf:1: include: `*` is supported in the file name only, not in the \
                 directories of `{star_in_dir}`"
        )
    );
    assert_eq!(
        error("include"),
        "test.conf:1: include: expected a file name or a pattern with `*` in the file name, \
             found nothing"
    );

    assert_eq!(
        error("include /dev/zero"),
        "test.conf:1: include: /dev/zero is a character device; include must name a regular \
             file of at most 16777216 bytes"
    );
    let conf_d = shown(dir.join("conf.d"));
    fs::create_dir_all(&conf_d).unwrap();
    let fifo = shown(dir.join("conf.d/pipe.conf"));
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    assert_eq!(
        error(&format!("confdir {conf_d}")),
        format!(
            "test.conf:1: confdir: {fifo} is a FIFO (named pipe); each *.conf file of a \
                 confdir must be a regular file of at most 16777216 bytes"
        )
    );
    let shadow = shown(dir.write("shadow", "root:$6$SECRETHASHVALUE:19000:0:99999:7:::\n"));
    let message = error(&format!("include {shadow}"));
    assert_eq!(
        message,
        format!("{shadow}:1: not a chrony configuration line (contents not shown)")
    );

    let looping = shown(dir.join("loop.conf"));
    dir.write("loop.conf", format!("include {looping}\n"));
    assert_eq!(
        parse_file(Path::new(&looping)).unwrap_err().to_string(),
        format!(
            "{looping}:1: include: cannot include {looping}: files nest more than 10 deep \
                 (does a file include itself?)"
        )
    );
}

#[test]
fn confdir_reads_conf_files_in_name_order_first_directory_wins() {
    let dir = TempDir::new("chrony-conf");
    dir.write("d1/a.conf", "dumpdir a-from-d1\n");
    dir.write("d2/a.conf", "dumpdir a-from-d2\n");
    dir.write("d2/b.conf", "allow 10/8\ndumpdir b\n");
    dir.write("d1/c.conf", "deny 10.1/16\ndumpdir c\n");
    dir.write("d2/.hidden.conf", "bogus\n");
    dir.write("d2/readme", "bogus\n");
    let config = parse(&format!(
        "confdir {} {} {}",
        shown(dir.join("missing")),
        shown(dir.join("d2")),
        shown(dir.join("d1"))
    ));
    let texts: Vec<_> = config.deferred.iter().map(|d| d.text.as_str()).collect();
    assert_eq!(texts, ["dumpdir a-from-d2", "dumpdir b", "dumpdir c"]);
    assert_eq!(config.deferred[2].file, shown(dir.join("d1/c.conf")));
    assert_eq!(config.deferred[2].line, 2);
    assert!(config.access.is_allowed(ip("10.2.0.1")));
    assert!(!config.access.is_allowed(ip("10.1.0.1")));
}

#[test]
fn confdir_errors() {
    assert_eq!(
        error("confdir"),
        "test.conf:1: confdir: expected 1 to 10 directories, found 0"
    );
    assert_eq!(
        error(&format!("confdir{}", " /etc/chrony/conf.d".repeat(11))),
        "test.conf:1: confdir: expected 1 to 10 directories, found 11"
    );
    let dir = TempDir::new("chrony-conf");
    let bad = shown(dir.write("x.conf", "\nbogus\n"));
    assert_eq!(
        error(&format!("confdir {}", shown(dir.join("")))),
        format!(
            "{bad}:2: bogus: unknown directive; ringd reads chrony.conf directives \
                 (see docs/ntp-config.md)"
        )
    );
}

#[test]
fn stock_debian_file_with_server_lines_loads() {
    let path = data_file("debian-server.conf");
    let config = parse_file(&path).unwrap();
    let file = path.display().to_string();
    assert_eq!(config.origin, file);
    // confdir /etc/chrony/conf.d may add directives of this machine: look at our file only.
    let ours: Vec<_> = config
        .deferred
        .iter()
        .filter(|d| d.file == file)
        .map(|d| (d.line, d.name.as_str()))
        .collect();
    assert_eq!(ours, [(34, "maxupdateskew")]);
    let upstream = &config.upstream;
    assert_eq!(upstream.sources[0].host, "2.debian.pool.ntp.org");
    assert!(upstream.sources[0].pool && upstream.sources[0].iburst);
    assert!(upstream.driftfile.is_some() && upstream.rtcsync && upstream.makestep.is_some());
    assert!(upstream.leap_seconds.is_some());
    assert!(config.access.is_allowed(ip("192.168.1.10")));
    assert!(!config.access.is_allowed(ip("10.0.0.1")));
    assert_eq!(config.local.map(|local| local.stratum), Some(10));
    assert_eq!(
        config.upstream_note().unwrap(),
        "recognised but not acted on yet: maxupdateskew"
    );
    assert_eq!(
        config.logs.dir.as_deref(),
        Some(Path::new("/var/log/chrony"))
    );
    assert!(!config.logs.any(), "Debian's `log` line is commented out");
}

#[test]
fn stock_rocky_file_with_server_lines_loads() {
    let config = parse_file(&data_file("rocky-server.conf")).unwrap();
    let names: Vec<_> = config.deferred.iter().map(|d| d.name.as_str()).collect();
    assert!(names.is_empty(), "{names:?}");
    assert_eq!(
        config.auth.keyfile.as_deref(),
        Some(Path::new("/etc/chrony.keys"))
    );
    assert!(config.access.is_allowed(ip("192.168.1.10")));
    assert_eq!(config.local.map(|local| local.stratum), Some(10));
}

#[test]
fn parse_file_reports_unreadable_file_and_tolerates_non_utf8() {
    let dir = TempDir::new("chrony-conf");
    let missing = shown(dir.join("missing.conf"));
    assert_eq!(
        parse_file(Path::new(&missing)).unwrap_err().to_string(),
        format!("cannot read {missing}: No such file or directory (os error 2)")
    );
    assert_eq!(
        parse_file(Path::new("/dev/zero")).unwrap_err().to_string(),
        "/dev/zero is a character device; --ntp-conf must name a regular file of at most \
             16777216 bytes"
    );
    let latin1 = shown(dir.join("latin1.conf"));
    fs::write(&latin1, b"# caf\xe9\nport 99\n").unwrap();
    assert_eq!(parse_file(Path::new(&latin1)).unwrap().port, 99);
}

#[test]
fn file_pattern_matching() {
    let matches = |pattern: &str, name: &str| matches_file_pattern(pattern, OsStr::new(name));
    assert!(matches("*.conf", "a.conf"));
    assert!(!matches("*.conf", ".conf.conf"));
    assert!(!matches("*.conf", ".a.conf"));
    assert!(!matches("*.conf", "a.conf.bak"));
    assert!(matches(".*", ".a"));
    assert!(matches("a*b*c", "aXbYc"));
    assert!(matches("a*b*c", "abbbc"));
    assert!(!matches("a*b*c", "aXbYcZ"));
    assert!(matches("*x*", "abxcd"));
    assert!(matches("a**b", "ab"));
    assert!(matches("exact.conf", "exact.conf"));
    assert!(!matches("a*", "b"));
}

#[test]
fn log_logdir_and_logbanner_are_read_as_chronyd_reads_them() {
    let config = parse(
        "server ntp.example\nlog measurements statistics\nlog tracking selection rtc\n\
         logdir /var/log/chrony\nlogbanner -20\n",
    );
    let logs = &config.logs;
    assert_eq!(logs.dir.as_deref(), Some(Path::new("/var/log/chrony")));
    assert_eq!(logs.measurements, MeasurementLog::Valid);
    assert!(logs.statistics && logs.tracking);
    assert_eq!(
        logs.banner_every, 20,
        "chronyd's `writes % -20` repeats every 20"
    );
    let deferred: Vec<_> = config.deferred.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(deferred, ["log selection", "log rtc"]);
    assert!(config
        .to_string()
        .contains("log measurements statistics tracking\nlogdir /var/log/chrony\nlogbanner 20\n"));
    // rawmeasurements wins over measurements in either order, as in chronyd.
    assert_eq!(
        parse("log rawmeasurements measurements").logs.measurements,
        MeasurementLog::Raw
    );
    assert_eq!(parse("log").logs, LogSettings::default());
    assert_eq!(
        error("log tracking clocks"),
        "test.conf:1: log: unknown log `clocks`; chrony's are rawmeasurements, measurements, \
         statistics, tracking, selection, rtc, refclocks and tempcomp"
    );
    assert_eq!(
        error("logbanner often"),
        "test.conf:1: logbanner: expected a number of lines (0: no banner), found `often`"
    );
}

#[test]
fn mapped_ipv4_subnet_lets_no_ipv4_client_in_as_chronyd() {
    let config = parse("allow ::ffff:127.0.0.0/104");
    assert!(!config.access.is_allowed(ip("127.0.0.1")));
    assert!(!config.access.is_allowed(ip("::ffff:127.0.0.1")));
    assert!(config.to_string().contains("allow ::ffff:127.0.0.0/104\n"));
}

#[test]
fn sourcedir_adds_the_sources_of_its_files_and_skips_what_chronyd_skips() {
    let dir = TempDir::new("chrony-sources");
    dir.write("dhcp/eth0.sources", "server 192.0.2.1 iburst\n");
    dir.write(
        "sources.d/a.sources",
        "# local servers\npool pool.example maxsources 2\npeer 192.0.2.9\nallow 10/8\n\
         server 192.0.2.2 bogus\nserver 192.0.2.3 xleave\n",
    );
    dir.write("sources.d/a.conf", "server 192.0.2.99\n");
    let config = parse(&format!(
        "sourcedir {}\nsourcedir {}\nsourcedir {}",
        shown(dir.join("dhcp")),
        shown(dir.join("missing")),
        shown(dir.join("sources.d"))
    ));
    let hosts: Vec<_> = config
        .upstream
        .sources
        .iter()
        .map(|s| s.host.as_str())
        .collect();
    assert_eq!(hosts, ["192.0.2.1", "pool.example", "192.0.2.3"]);
    assert!(config.upstream.sources[0].iburst);
    assert_eq!(config.upstream.sources[1].max_sources, 2);
    assert!(!config.access.is_allowed(ip("10.0.0.1")));
    let sources_file = shown(dir.join("sources.d/a.sources"));
    assert_eq!(config.deferred[0].file, sources_file);
    assert_eq!(config.deferred[0].text, "peer 192.0.2.9");
    let warnings: Vec<_> = config.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    assert!(warnings[0].starts_with(&format!(
        "{sources_file}:4: sourcedir: line skipped, as chronyd skips it: {sources_file}:4: allow: \
         not a server, pool or peer line"
    )));
    assert!(warnings[1].contains(":5: sourcedir: line skipped") && warnings[1].contains("bogus"));
    assert_eq!(
        warnings[2],
        format!("{sources_file}:6: server: option `xleave` is accepted and not acted on")
    );
}

#[test]
fn start_up_log_has_one_warning_line_per_line_not_acted_on_or_clamped() {
    let config = parse("refclock SHM 0\nratelimit burst 300 leak 0\nlocal stratum 10\n");
    assert_eq!(
        config.start_up_warnings(),
        [
            "test.conf:1: refclock: accepted, not acted on by ringd",
            "test.conf:2: ratelimit: `burst 300` clamped to 255 as chronyd does",
            "test.conf:2: ratelimit: `leak 0` clamped to 1 as chronyd does",
            "no `server` or `pool` line: ringd does not synchronise upstream and serves the \
             system clock at local stratum 10",
        ]
    );
    assert_eq!(config.ratelimit.map(|r| (r.burst, r.leak)), Some((255, 1)));
}
