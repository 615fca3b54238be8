//! The files a configuration names, read by the real binary: devices, FIFOs and secrets are
//! refused without hanging or being printed; `ringd ftp-passwd` refuses names and passwords
//! that cannot be stored and leaves the users file as it was.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{run_to_exit, Ringd, TempDir};

fn check(flag: &str, conf: &Path) -> Output {
    run_to_exit(&["--check", flag, conf.to_str().unwrap()], b"")
}

/// Exit status 1 and the error on stderr; returns stdout and stderr together.
fn refused(output: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(1), "{text}");
    text
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn banner_file_must_be_a_regular_file() {
    let dir = TempDir::new("conf-banner");
    let conf = dir.write(
        "vsftpd.conf",
        "listen=YES\nanonymous_enable=YES\nanon_root=/srv\nbanner_file=/dev/zero\n",
    );
    let text = refused(&check("--ftp-conf", &conf));
    assert!(
        text.contains(
            "/dev/zero is a character device; banner_file must name a regular file of at most \
             100000 bytes"
        ),
        "{text}"
    );

    // A FIFO without a writer: the open must not wait for one.
    let fifo = dir.join("banner.fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let conf = dir.write(
        "fifo.conf",
        format!(
            "listen=YES\nanonymous_enable=YES\nanon_root=/srv\nbanner_file={}\n",
            fifo.display()
        ),
    );
    let text = refused(&check("--ftp-conf", &conf));
    assert!(
        text.contains(&format!("{} is a FIFO (named pipe)", fifo.display())),
        "{text}"
    );

    // Larger than vsftpd reads.
    let big = dir.write("banner.txt", "welcome\n".repeat(12_500 + 1));
    let conf = dir.write(
        "big.conf",
        format!(
            "listen=YES\nanonymous_enable=YES\nanon_root=/srv\nbanner_file={}\n",
            big.display()
        ),
    );
    let text = refused(&check("--ftp-conf", &conf));
    assert!(
        text.contains(&format!("{} has more than 100000 bytes", big.display())),
        "{text}"
    );
}

#[test]
fn chrony_include_of_a_device_is_refused() {
    let dir = TempDir::new("conf-include");
    let conf = dir.write("chrony.conf", "allow 127.0.0.1\ninclude /dev/zero\n");
    let text = refused(&check("--ntp-conf", &conf));
    assert!(
        text.contains(&format!(
            "{}:2: include: /dev/zero is a character device; include must name a regular file \
             of at most 16777216 bytes",
            conf.display()
        )),
        "{text}"
    );
}

#[test]
fn chrony_include_of_a_secret_does_not_print_it() {
    let dir = TempDir::new("conf-secret");
    let shadow = dir.write(
        "shadow",
        "root:$6$SECRETHASHVALUE:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n",
    );
    let conf = dir.write(
        "chrony.conf",
        format!("allow 127.0.0.1\ninclude {}\n", shadow.display()),
    );
    let text = refused(&check("--ntp-conf", &conf));
    assert!(!text.contains("SECRETHASHVALUE"), "{text}");
    assert!(!text.contains("root:"), "{text}");
    assert!(
        text.contains(&format!(
            "{}:1: not a chrony configuration line (contents not shown)",
            shadow.display()
        )),
        "{text}"
    );
    // The same file given as the configuration itself.
    let text = refused(&check("--ntp-conf", &shadow));
    assert!(!text.contains("SECRETHASHVALUE"), "{text}");
}

/// A users file with one user, and its bytes.
fn users_file(dir: &TempDir) -> (std::path::PathBuf, Vec<u8>) {
    let users = dir.join("users");
    let output = run_to_exit(&["ftp-passwd", path(&users), "alice"], b"wonder land\n");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bytes = std::fs::read(&users).unwrap();
    assert!(bytes.starts_with(b"alice:$"));
    (users, bytes)
}

/// Only the users file is in `dir`: no temporary file left behind.
fn assert_only_users_file(dir: &TempDir) {
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(names, ["users"]);
}

#[test]
fn ftp_passwd_refuses_a_name_that_leaves_the_root() {
    let dir = TempDir::new("passwd-name");
    let (users, before) = users_file(&dir);
    for name in ["../outside", "a/b", "..", "."] {
        let output = run_to_exit(&["ftp-passwd", path(&users), name], b"secret pw\n");
        let text = refused(&output);
        assert!(
            text.contains(&format!("invalid user name {name:?}: ")),
            "{text}"
        );
        assert!(text.contains("user_sub_token"), "{text}");
        assert_eq!(std::fs::read(&users).unwrap(), before, "{name}");
    }
    assert_only_users_file(&dir);
}

#[test]
fn ftp_passwd_refuses_an_empty_password() {
    let dir = TempDir::new("passwd-empty");
    let (users, before) = users_file(&dir);
    for name in ["alice", "bob"] {
        let output = run_to_exit(&["ftp-passwd", path(&users), name], b"\n");
        let text = refused(&output);
        assert!(text.contains("invalid password: empty"), "{text}");
        assert_eq!(std::fs::read(&users).unwrap(), before, "{name}");
    }
    assert_only_users_file(&dir);
}

/// sha512-crypt of the empty password, as `mkpasswd -m sha512crypt -S saltsalt ''` prints it.
const SHA512_OF_EMPTY: &str = "$6$saltsalt$qkTgsCrWMTAS9gBGcf9W60sFfH.hU0oTCAOJjhbz5tSp/sU3/xXZK4OFwCtq8lIIdpJ6CatVdOTSHKp97TPkt/";

#[test]
fn a_users_file_with_an_empty_password_is_refused() {
    let dir = TempDir::new("users-empty");
    let (users, before) = users_file(&dir);
    // A hand edit gives bob the empty password.
    let mut text = String::from_utf8(before).unwrap();
    text.push_str(&format!("bob:{SHA512_OF_EMPTY}\n"));
    std::fs::write(&users, &text).unwrap();
    let conf = dir.write(
        "vsftpd.conf",
        format!(
            "listen=YES\nanonymous_enable=NO\nlocal_enable=YES\nlocal_root=/srv\n\
             virtual_users_file={}\n",
            users.display()
        ),
    );
    let output = refused(&check("--ftp-conf", &conf));
    assert!(
        output.contains(&format!(
            "{}:2: user \"bob\" has an empty password",
            users.display()
        )),
        "{output}"
    );
    // ftp-passwd reads the file the same way: it changes nothing in it either.
    let output = refused(&run_to_exit(
        &["ftp-passwd", path(&users), "carol"],
        b"pw\n",
    ));
    assert!(output.contains("has an empty password"), "{output}");
    assert_eq!(std::fs::read_to_string(&users).unwrap(), text);
}

#[test]
fn check_reports_every_error_of_a_vsftpd_conf_at_once() {
    let dir = TempDir::new("conf-all-errors");
    let conf = dir.write(
        "vsftpd.conf",
        "listen=NO\nlisten_ipv6=YES\nwrite_enable=maybe\nanon_root= /srv\nbogus_option=1\n",
    );
    let text = refused(&check("--ftp-conf", &conf));
    for (line, option) in [(3, "write_enable"), (4, "anon_root"), (5, "bogus_option")] {
        assert!(
            text.contains(&format!("{}:{line}: {option}: ", path(&conf))),
            "line {line} is reported: {text}"
        );
    }
}

#[test]
fn check_names_the_anon_root_to_create_and_passes() {
    let dir = TempDir::new("conf-anon-root");
    let missing = dir.join("srv/ftp");
    let conf = dir.write(
        "vsftpd.conf",
        format!(
            "listen=YES\nanonymous_enable=YES\nanon_root={}\n",
            missing.display()
        ),
    );
    let output = check("--ftp-conf", &conf);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "vsftpd starts with it too: {stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "# line 3: anon_root={0}: no such directory: every anonymous login would fail",
            missing.display()
        )) && stdout.contains(&format!("mkdir -p {}", missing.display())),
        "{stdout}"
    );
}

#[test]
fn without_an_allow_line_the_ntp_port_is_not_opened() {
    let ringd = Ringd::start_ntp(
        "port 0\nbindaddress 127.0.0.1\nbindaddress ::1\nlocal stratum 10\n",
        &["--shards", "1"],
        0,
    );
    let log = ringd.stop().join("\n");
    assert!(
        log.contains("NTP port not opened: no `allow` line lets a client in"),
        "{log}"
    );
}

#[test]
fn only_the_families_an_allow_line_lets_in_are_opened() {
    // As chronyd 4.3: a mapped subnet is an IPv6 rule, so no IPv4 port is opened for it.
    let ringd = Ringd::start_ntp(
        "port 0\nbindaddress 127.0.0.1\nbindaddress ::1\nallow ::ffff:127.0.0.0/104\n\
         local stratum 10\n",
        &["--shards", "1"],
        1,
    );
    assert!(ringd.ntp_addrs.iter().all(|addr| addr.is_ipv6()));
    ringd.stop();
}

/// What `ringd --check` must do with one chrony.conf line.
enum Verdict {
    /// Exit 0 with this text among the settings in effect.
    Acted(&'static str),
    /// Exit 0, listed as accepted and not acted on.
    NotActedOn,
    /// Exit 0 with this warning (a value clamped, an option not acted on) listed.
    Warned(&'static str),
    /// Exit 1 with this text in the error, which names the file and line.
    Refused(&'static str),
}

/// Every line below was run through chronyd 4.3 (`chronyd -Q -t 1 -f FILE`, Debian's
/// 4.3-2+deb12u3); the comment says what chronyd did with it where it was not a plain accept.
const CHRONYD_4_3_LINES: &[(&str, Verdict)] =
    {
        use Verdict::*;
        &[
        // Values chronyd clamps (clientlog.c, ntp_core.c, ntp_sources.c).
        (
            "ratelimit burst 100",
            Acted("ratelimit interval 3 burst 100 leak 2 kod 0"),
        ),
        (
            "ratelimit burst 300",
            Warned("`burst 300` clamped to 255 as chronyd does"),
        ),
        (
            "ratelimit interval -1 burst 0",
            Warned("`burst 0` clamped to 1 as chronyd does"),
        ),
        (
            "ratelimit leak 0",
            Warned("`leak 0` clamped to 1 as chronyd does"),
        ),
        (
            "ratelimit leak 8",
            Warned("`leak 8` clamped to 4 as chronyd does"),
        ),
        (
            "ratelimit interval 20",
            Warned("`interval 20` clamped to 12 as chronyd does"),
        ),
        (
            "ratelimit interval -20",
            Warned("`interval -20` clamped to -19 as chronyd does"),
        ),
        ("makestep -1 3", Acted("makestep -1 3")),
        ("makestep 1 -1", Acted("makestep 1 -1")),
        (
            "server 127.0.0.1 minpoll -8",
            Warned("`minpoll -8` is below -7: 6 is used"),
        ),
        (
            "server 127.0.0.1 maxpoll 25",
            Warned("`maxpoll 25` clamped to 24 as chronyd does"),
        ),
        (
            "server 127.0.0.1 minpoll 0 maxpoll -8",
            Acted("minpoll 0 maxpoll 10"),
        ),
        (
            "pool 127.0.0.1 maxsources 20",
            Warned("`maxsources 20` clamped to 16"),
        ),
        (
            "pool 127.0.0.1 maxsources 0",
            Warned("`maxsources 0` clamped to 1"),
        ),
        (
            "server 127.0.0.1 maxsources 20",
            Warned("option `maxsources` is accepted and not"),
        ),
        // chronyd accepts NaN; a distance that is not a number means nothing, so ringd refuses.
        (
            "maxdistance NaN",
            Refused("expected a finite distance in seconds"),
        ),
        (
            "maxdistance inf",
            Refused("expected a finite distance in seconds"),
        ),
        // Source options chronyd 4.3 accepts (cmdparse.c).
        (
            "server 127.0.0.1 iburst prefer noselect port 1123",
            Acted("port 1123 minpoll 6 maxpoll 10 iburst prefer noselect"),
        ),
        (
            "server 127.0.0.1 xleave",
            Warned("option `xleave` is accepted and not acted on"),
        ),
        (
            "server 127.0.0.1 maxdelay 0.1",
            Warned("option `maxdelay` is accepted"),
        ),
        (
            "server 127.0.0.1 maxdelayratio 2",
            Warned("option `maxdelayratio` is accepted"),
        ),
        (
            "server 127.0.0.1 maxdelaydevratio 10",
            Warned("option `maxdelaydevratio` is accepted"),
        ),
        (
            "server 127.0.0.1 maxdelayquant 0.2",
            Warned("option `maxdelayquant` is accepted"),
        ),
        (
            "server 127.0.0.1 mindelay 0.001",
            Warned("option `mindelay` is accepted"),
        ),
        (
            "server 127.0.0.1 minstratum 3",
            Warned("option `minstratum` is accepted"),
        ),
        (
            "server 127.0.0.1 offline",
            Warned("option `offline` is accepted"),
        ),
        (
            "server 127.0.0.1 auto_offline",
            Warned("option `auto_offline` is accepted"),
        ),
        (
            "server 127.0.0.1 filter 4",
            Warned("option `filter` is accepted"),
        ),
        (
            "server 127.0.0.1 version 3",
            Warned("option `version` is accepted"),
        ),
        (
            "server 127.0.0.1 burst",
            Warned("option `burst` is accepted"),
        ),
        ("server 127.0.0.1 copy", Warned("option `copy` is accepted")),
        (
            "server 127.0.0.1 require",
            Warned("option `require` is accepted"),
        ),
        (
            "server 127.0.0.1 trust",
            Warned("option `trust` is accepted"),
        ),
        (
            "server 127.0.0.1 ntsport 4460",
            Warned("option `ntsport` is accepted and not acted on: only an `nts` source uses it"),
        ),
        (
            "server 127.0.0.1 asymmetry 0.5",
            Warned("option `asymmetry` is accepted"),
        ),
        (
            "server 127.0.0.1 extfield F323",
            Warned("option `extfield` is accepted"),
        ),
        (
            "server 127.0.0.1 maxsamples 8",
            Warned("option `maxsamples` is accepted"),
        ),
        (
            "server 127.0.0.1 minsamples 4",
            Warned("option `minsamples` is accepted"),
        ),
        (
            "server 127.0.0.1 offset 0.001",
            Warned("option `offset` is accepted"),
        ),
        (
            "server 127.0.0.1 polltarget 6",
            Warned("option `polltarget` is accepted"),
        ),
        (
            "server 127.0.0.1 presend 9",
            Warned("option `presend` is accepted"),
        ),
        (
            "server 127.0.0.1 key 1",
            Acted("server 127.0.0.1 port 123 minpoll 6 maxpoll 10 key 1"),
        ),
        (
            "server 127.0.0.1 nts",
            Acted("server 127.0.0.1 port 123 minpoll 6 maxpoll 10 nts ntsport 4460 certset 0"),
        ),
        (
            "server 127.0.0.1 certset 1",
            Warned("option `certset` is accepted and not acted on: only an `nts` source uses it"),
        ),
        ("server 127.0.0.1 key 0", Refused("`key 0` is not a key")),
        // chronyd 4.3: "Could not parse server directive".
        (
            "server 127.0.0.1 interleave",
            Refused("unknown option `interleave`, which chronyd 4.3 refuses too"),
        ),
        (
            "server 127.0.0.1 stratum 3",
            Refused("unknown option `stratum`"),
        ),
        (
            "server 127.0.0.1 maxdelay fast",
            Refused("expected a finite number after `maxdelay`"),
        ),
        // Directives chronyd 4.3 accepts (conf.c).
        ("initstepslew 10 127.0.0.1", NotActedOn),
        ("manual", NotActedOn),
        ("smoothtime 400 0.001", NotActedOn),
        ("smoothtime 400 0.001 leaponly", NotActedOn),
        ("leapsecmode slew", NotActedOn),
        ("user nobody", Acted("user nobody")),
        ("pidfile /run/chronyd.pid", NotActedOn),
        ("refclock SHM 0 refid GPS", NotActedOn),
        ("binddevice eth0", NotActedOn),
        ("dscp 46", NotActedOn),
        ("maxslewrate 1000", NotActedOn),
        ("acquisitionport 1123", NotActedOn),
        ("bindacqaddress 0.0.0.0", NotActedOn),
        ("bindacqdevice eth0", NotActedOn),
        ("bindcmddevice eth0", NotActedOn),
        ("broadcast 64 192.0.2.255", NotActedOn),
        ("clockprecision 1e-6", NotActedOn),
        ("cmdratelimit interval -4 burst 8", NotActedOn),
        ("combinelimit 3", NotActedOn),
        // chronyd: "commandkey directive is no longer supported", and runs on.
        ("commandkey 1", NotActedOn),
        ("generatecommandkey", NotActedOn),
        ("linux_freq_scale 1", NotActedOn),
        ("linux_hz 100", NotActedOn),
        ("corrtimeratio 3", NotActedOn),
        ("dumponexit", NotActedOn),
        ("fallbackdrift 16 19", NotActedOn),
        ("logchange 0.5", NotActedOn),
        ("mailonchange root@localhost 0.5", NotActedOn),
        ("maxchange 1000 1 2", NotActedOn),
        ("maxclockerror 1", NotActedOn),
        ("maxdrift 500000", NotActedOn),
        ("maxjitter 1", NotActedOn),
        (
            "ntsservercert /etc/ssl/x.crt\nntsserverkey /etc/ssl/x.key\nmaxntsconnections 100",
            Acted("maxntsconnections 100\n"),
        ),
        ("maxsamples 10", NotActedOn),
        ("minsamples 4", NotActedOn),
        ("nocerttimecheck 1", NotActedOn),
        ("nosystemcert", Acted("\nnosystemcert\n")),
        ("ntpsigndsocket /var/lib/samba/ntp_signd", NotActedOn),
        ("ntscachedir /var/lib/chrony", NotActedOn),
        (
            "ntsservercert /etc/ssl/x.crt\nntsserverkey /etc/ssl/x.key\nntsntpserver ntp.example",
            Acted("ntsntpserver ntp.example\n"),
        ),
        (
            "ntsservercert /etc/ssl/x.crt\nntsserverkey /etc/ssl/x.key\nntsport 4460",
            Acted("ntsport 4460\n"),
        ),
        (
            "ntsservercert /etc/ssl/x.crt\nntsserverkey /etc/ssl/x.key\nntsprocesses 2",
            Acted("# ntsprocesses 2: one NTS-KE thread"),
        ),
        ("ntsratelimit interval 3", NotActedOn),
        ("ntsrefresh 3600", Acted("\nntsrefresh 3600\n")),
        (
            "ntsservercert /etc/ssl/x.crt\nntsserverkey /etc/ssl/x.key\nntsrotate 3600",
            Acted("ntsrotate 3600\n"),
        ),
        (
            "ntsservercert /etc/ssl/x.crt",
            Acted("# NTS-KE is not served: it needs both"),
        ),
        (
            "ntsservercert /etc/ssl/x.crt\nntsserverkey /etc/ssl/x.key\nntsport 4460",
            Acted("ntsserverkey /etc/ssl/x.key\n"),
        ),
        ("ntstrustedcerts /etc/ssl/x.pem", Acted("\nntstrustedcerts 0 /etc/ssl/x.pem\n")),
        ("ptpport 319", NotActedOn),
        ("reselectdist 1e-4", NotActedOn),
        ("rtcautotrim 30", NotActedOn),
        ("rtcdevice /dev/rtc0", NotActedOn),
        ("rtcfile /var/lib/chrony/rtc", NotActedOn),
        ("stratumweight 0.001", NotActedOn),
        (
            "tempcomp /sys/class/hwmon/hwmon0/temp2_input 30 26000 0.0 0.000183 0.0",
            NotActedOn,
        ),
        ("authselectmode require", NotActedOn),
        ("bindcmdaddress 127.0.0.1", NotActedOn),
        ("cmdallow 127.0.0.1", NotActedOn),
        ("cmddeny 10.0.0.0/8", NotActedOn),
        ("cmdport 0", NotActedOn),
        ("dumpdir /var/lib/chrony", NotActedOn),
        ("hwclockfile /etc/adjtime", NotActedOn),
        ("hwtimestamp *", NotActedOn),
        (
            "keyfile /etc/chrony/chrony.keys",
            Acted("keyfile /etc/chrony/chrony.keys\n"),
        ),
        ("lock_all", NotActedOn),
        ("maxupdateskew 100", NotActedOn),
        (
            "ntsservercert /etc/ssl/x.crt\nntsserverkey /etc/ssl/x.key\nntsdumpdir /var/lib/chrony",
            Acted("ntsdumpdir /var/lib/chrony\n"),
        ),
        ("peer 127.0.0.2", NotActedOn),
        ("rtconutc", NotActedOn),
        ("sched_priority 1", NotActedOn),
        (
            "sourcedir /nonexistent/chrony-sources",
            Acted("server 127.0.0.9 port 123"),
        ),
        // chronyd 4.3: "Invalid directive" (later chrony versions, or server options).
        (
            "hwtstimeout 0.001",
            Refused("a directive of chrony 4.4 or later"),
        ),
        ("ntsaeads 30", Refused("a directive of chrony 4.4 or later")),
        (
            "opencommands activity",
            Refused("a directive of chrony 4.4 or later"),
        ),
        ("ptpdomain 0", Refused("a directive of chrony 4.4 or later")),
        (
            "refresh 1209600",
            Refused("a directive of chrony 4.4 or later"),
        ),
        (
            "maxtxbuffers 100",
            Refused("a directive of chrony 4.4 or later"),
        ),
        ("maxstratum 15", Refused("unknown directive")),
        ("minstratum 2", Refused("unknown directive")),
        // chronyd 4.3: "Could not parse local directive".
        (
            "local stratum 16",
            Refused("expected an integer 1..15 after `stratum`"),
        ),
        ("local activate 0.5", Refused("option `activate`")),
    ]
    };

#[test]
fn every_chronyd_4_3_line_is_accepted_clamped_or_refused_as_chronyd_does() {
    let dir = TempDir::new("chrony-lines");
    for (index, (line, verdict)) in CHRONYD_4_3_LINES.iter().enumerate() {
        // A source after the line, so that the client side's settings are printed.
        let conf = dir.write(
            format!("{index}.conf"),
            format!("{line}\nserver 127.0.0.9\n"),
        );
        let output = check("--ntp-conf", &conf);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let at_line = format!("{}:1: ", path(&conf));
        let name = line.split(' ').next().unwrap();
        let ok = output.status.code() == Some(0);
        let (expected_ok, found) = match verdict {
            Verdict::Acted(text) => (true, stdout.contains(text)),
            Verdict::NotActedOn => (true, stdout.contains(&format!("#   {at_line}{name}\n"))),
            Verdict::Warned(text) => (
                true,
                stdout.contains(&format!("#   {at_line}{name}: {text}")),
            ),
            Verdict::Refused(text) => (false, stderr.contains(&at_line) && stderr.contains(text)),
        };
        assert!(
            ok == expected_ok && found,
            "`{line}`: exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
            output.status.code()
        );
    }
}

/// "환영합니다" (welcome) in EUC-KR: not UTF-8.
const EUC_KR_WELCOME: &[u8] = b"\xc8\xaf\xbf\xb5\xc7\xd5\xb4\xcf\xb4\xd9";

/// A vsftpd.conf, as bytes, whose numbers are written as vsftpd 3.0.3 still reads them (a
/// blank after `=`, letters after the digits) and whose greeting is in EUC-KR.
fn conf_vsftpd_reads_loosely(root: &Path) -> Vec<u8> {
    [
        format!(
            "listen=YES\nlisten_address=127.0.0.1\nlisten_port= 0\nmax_clients=12abc\n\
             anonymous_enable=YES\nanon_root={}\npasv_min_port=0\n{}ftpd_banner=",
            root.display(),
            common::SESSION_USER_CONF
        )
        .as_bytes(),
        EUC_KR_WELCOME,
        b"\n",
    ]
    .concat()
}

#[test]
fn check_shows_loosely_written_numbers_and_euc_kr_values() {
    let dir = TempDir::new("conf-loose-values");
    let conf = dir.write("vsftpd.conf", conf_vsftpd_reads_loosely(dir.path()));
    let output = check("--ftp-conf", &conf);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "vsftpd starts with it: {stdout}"
    );
    for expected in [
        "max_clients=12\n",
        "# line 4: max_clients=12abc: vsftpd reads the number up to the first byte that is \
         not a digit, ignoring `abc`: 12 is used\n",
        "ftpd_banner=\\xc8\\xaf\\xbf\\xb5\\xc7\\xd5\\xb4\\xcf\\xb4\\xd9\n",
    ] {
        assert!(stdout.contains(expected), "{expected} not in:\n{stdout}");
    }
}

#[test]
fn a_blank_after_listen_port_and_an_euc_kr_greeting_serve_as_in_vsftpd() {
    use std::io::Read;
    let dir = TempDir::new("ftp-loose-values");
    let root = dir.join("root");
    std::fs::create_dir(&root).unwrap();
    let conf = dir.write("vsftpd.conf", conf_vsftpd_reads_loosely(&root));
    let mut command = Command::new(env!("CARGO_BIN_EXE_ringd"));
    command.arg("--ftp-conf").arg(&conf).args(["--shards", "1"]);
    command.arg("--control-socket").arg(dir.join("ringd.sock"));
    let mut ringd = Ringd::spawn(command, dir, 1);
    let warning = ringd.wait_for_line("max_clients=12abc", std::time::Duration::from_secs(10));
    assert!(
        warning.contains("WARN")
            && warning.contains(&format!("{}:4: ", conf.display()))
            && warning.contains("12 is used"),
        "{warning}"
    );
    let mut control = std::net::TcpStream::connect(ringd.ftp_addrs[0]).unwrap();
    control
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let expected = [b"220 ".as_slice(), EUC_KR_WELCOME, b"\r\n"].concat();
    let mut greeting = vec![0; expected.len()];
    control.read_exact(&mut greeting).unwrap();
    assert_eq!(greeting, expected);
    ringd.stop();
}
