#!/usr/bin/env bash
# FTP security interop: the same scenarios (ftp_security.py) against vsftpd 3.0.3 and ringd, from
# the same vsftpd.conf texts; every reply and every uploaded file's owner and mode must match.
# Needs root (system accounts, a PAM service file) and vsftpd (install-packages.sh vsftpd).
set -euo pipefail

source "$(dirname "$0")/common.sh"
suite="$root/tests/interop/ftp_security.py"

if [ "$(id -u)" -ne 0 ]; then
    echo "skipped: needs root"
    exit 0
fi

# Runs the suite against SERVER into $work/SERVER.out (transcript, then a JSON summary line) and
# $work/SERVER.steps (the transcript alone); its exit status into $work/SERVER.status.
transcript() {
    local server=$1 status=0
    python3 "$suite" --server "$server" --ringd "$ringd" \
        > "$work/$server.out" 2> "$work/$server.err" || status=$?
    echo "$status" > "$work/$server.status"
    grep -v '^{"server"' "$work/$server.out" > "$work/$server.steps" || true
    # Its stderr: scenarios whose server did not start, a count, the steps whose reply was not
    # the documented one (for ringd the comparison below names those), harness errors.
    if [ "$server" = ringd ]; then
        grep -v '^unexpected: ' "$work/$server.err" | sed "s/^/  /" || true
    else
        sed "s/^/  /" "$work/$server.err"
    fi
}

# vsftpd is the reference: every reply the suite documents must hold, or the suite (or the
# vsftpd package) changed.
vsftpd_as_documented() {
    transcript vsftpd
    [ "$(cat "$work/vsftpd.status")" -eq 0 ]
}

# ringd may miss documented replies (the comparison names them); exit status 2 is the harness
# failing (setup, cleanup), which is not a verdict on ringd.
ringd_ran() {
    transcript ringd
    [ "$(cat "$work/ringd.status")" -le 1 ] && [ -s "$work/ringd.steps" ]
}

# Both transcripts send the same commands in the same order, so line N of one is step N of the
# other: each differing line is printed with its step (scenario #n | command) and both replies.
same_transcripts() {
    local want="$work/vsftpd.steps" got="$work/ringd.steps"
    if [ "$(wc -l < "$want")" -ne "$(wc -l < "$got")" ]; then
        echo "  the transcripts have different numbers of steps:"
        diff -u --label vsftpd --label ringd "$want" "$got" | sed 's/^/  /'
        return 1
    fi
    awk '
        # A line is "scenario #n | command | reply".
        function step(line,    i, rest) {
            i = index(line, " | ")
            rest = substr(line, i + 3)
            return substr(line, 1, i + 2) substr(rest, 1, index(rest, " | ") - 1)
        }
        function reply(line,    rest) {
            rest = substr(line, index(line, " | ") + 3)
            return substr(rest, index(rest, " | ") + 3)
        }
        function scenario(line) { return substr(line, 1, index(line, " #") - 1) }
        NR == FNR { want[FNR] = $0; next }
        # A scenario ringd did not start for: one line, not one per step.
        $0 != want[FNR] && (reply($0) == "<server not running>" || scenario($0) in down) {
            differing++
            if (!(scenario($0) in down))
                printf "  differs: %s: every step (ringd did not serve it)\n", scenario($0)
            down[scenario($0)] = 1
            next
        }
        $0 != want[FNR] {
            differing++
            printf "  differs: %s\n    vsftpd: %s\n", step(want[FNR]), reply(want[FNR])
            if (step($0) == step(want[FNR])) printf "    ringd:  %s\n", reply($0)
            else printf "    ringd:  (step %s) %s\n", step($0), reply($0)
        }
        END {
            if (differing) printf "  %d of %d steps differ\n", differing, FNR
            exit differing > 0
        }
    ' "$want" "$got"
}

check "vsftpd 3.0.3 gives every documented reply, owner and mode" vsftpd_as_documented
check "the suite runs against ringd (start, port, stop, cleanup)" ringd_ran
check "ringd's replies, owners and modes are vsftpd's, step for step" same_transcripts

summary
