#!/usr/bin/env bash
# The Debian package as an admin gets it: built with cargo-deb from the release binaries and
# the generated man pages, installed with dpkg -i, its systemd units verified, its man pages
# found by man, and the installed ringd checking the packaged example configurations.
# Removes the package again at exit. Needs root and the release build (cargo build --release
# --workspace).
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo_deb_version=3.8.0
tools="$PWD/target/tools"
if ! "$tools/bin/cargo-deb" --version 2>/dev/null | grep -q "$cargo_deb_version"; then
    cargo install cargo-deb --locked --version "$cargo_deb_version" --root "$tools"
fi
bash tests/interop/install-packages.sh man-db

cargo run --release -p manpages -- target/man
"$tools/bin/cargo-deb" --no-build
package=$(ls -t target/debian/ringd_*.deb | head -1)

installed=0
remove() { if [ "$installed" -eq 1 ]; then dpkg --purge ringd > /dev/null; fi; }
trap remove EXIT
dpkg -i "$package"
installed=1

failed=0
check() {
    local name=$1; shift
    if "$@"; then echo "ok: $name"; else echo "FAILED: $name"; failed=1; fi
}
check "systemd-analyze verify the units" \
    systemd-analyze verify /lib/systemd/system/ringd-ntp.service /lib/systemd/system/ringd-ftp.service
for page in ringd ringctl ringload ringd-chrony.conf ringd-vsftpd.conf; do
    check "man -w $page" man -w "$page"
done
examples=/usr/share/doc/ringd/examples
check "ringd --check on the example chrony.conf" \
    /usr/bin/ringd --check --ntp-conf "$examples/chrony.conf"
check "ringd --check on the example vsftpd.conf" \
    /usr/bin/ringd --check --ftp-conf "$examples/vsftpd.conf"
check "ringctl and ringload run" sh -c '/usr/bin/ringctl --version && /usr/bin/ringload --version'
exit "$failed"
