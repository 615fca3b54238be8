"""This checkout: its root, its release binaries and their build, Debian packages, revision."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS_MD = ROOT / "docs" / "benchmarks.md"


def release_dir():
    """Where cargo puts the release binaries: under CARGO_TARGET_DIR, as cargo itself does."""
    return Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target") / "release"


def cargo_build(*selection):
    subprocess.run(["cargo", "build", "--release", "-q", *selection], cwd=ROOT, check=True)


def install_packages(*packages):
    """Installs what is missing with the interop suite's script, which lets no package start a
    daemon (a chronyd started by its package would discipline the system clock)."""
    script = ROOT / "tests" / "interop" / "install-packages.sh"
    subprocess.run(["bash", str(script), *packages], check=True)


def git_revision(paths, count_untracked):
    """HEAD's short hash, "with uncommitted changes" when `paths` differ from it."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                          capture_output=True, text=True)
    if head.returncode != 0:
        return "no commit"
    untracked = [] if count_untracked else ["--untracked-files=no"]
    status = subprocess.run(["git", "status", "--porcelain", *untracked, "--", *paths],
                            cwd=ROOT, capture_output=True, text=True)
    changed = " with uncommitted changes" if status.stdout.strip() else ""
    return head.stdout.strip() + changed
