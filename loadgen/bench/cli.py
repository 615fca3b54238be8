"""The command line: which comparison runs, the argument types they share, and the exit codes."""

import argparse
import importlib
import signal
import subprocess
import sys

from bench import BenchError

COMMAND = "python3 loadgen/bench"
COMPARISONS = {
    "ntp": "chronyd, the udp-reflector (the syscall floor) and ringd",
    "ftp": "vsftpd, pyftpdlib and ringd (needs root)",
    "transfer": "ringd's FTP transfer engines: sendfile, splice, copy",
}
USAGE = f"usage: {COMMAND} COMPARISON [FLAGS]\n\n" + "".join(
    f"  {name:<9} {what}\n" for name, what in COMPARISONS.items()
) + f"\n{COMMAND} COMPARISON --help lists a comparison's flags."


def positive_int(text):
    """An argparse type: a whole number above 0."""
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"takes a positive number, not {text!r}")
    return int(text)


def parser(name, description, epilog):
    """The argument parser of comparison `name`, its help made of the texts given, with the
    flag every comparison has: `--no-build`."""
    result = argparse.ArgumentParser(
        prog=f"{COMMAND} {name}",
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    result.add_argument("--no-build", dest="build", action="store_false",
                        help="use the release binaries already built")
    return result


def _interrupted(_signum, _frame):
    raise KeyboardInterrupt


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    name, flags = argv[0], argv[1:]
    if name not in COMPARISONS:
        print(f"{COMMAND}: unknown comparison {name}\n\n{USAGE}", file=sys.stderr)
        return 2
    comparison = importlib.import_module(f"bench.{name}")
    # SIGTERM ends a run as Ctrl-C does, through the same cleanup; so does SIGINT when the
    # shell that started the run had it ignored (a background job), because the servers,
    # which set their own handlers, stop at it all the same.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _interrupted)
    try:
        return comparison.main(flags)
    except KeyboardInterrupt:
        return 130
    except BenchError as error:
        print(f"bench {name}: {error}", file=sys.stderr)
    except subprocess.CalledProcessError as error:
        print(f"bench {name}: {' '.join(map(str, error.cmd))} exited with {error.returncode}",
              file=sys.stderr)
    except subprocess.TimeoutExpired as error:
        print(f"bench {name}: {' '.join(map(str, error.cmd))} ran past {error.timeout} s",
              file=sys.stderr)
    return 1
