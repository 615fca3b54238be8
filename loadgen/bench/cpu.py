"""Pinning processes to cores, and the CPU time counters the figures are made of."""

import os


def pinned(core, argv):
    """`argv` run on `core` only: taskset execs it, so the process keeps taskset's PID."""
    return ["taskset", "-c", str(core), *map(str, argv)]


def ticks_per_second():
    return os.sysconf("SC_CLK_TCK")


def _stat_fields(pid):
    """Fields of /proc/PID/stat from the state on (field 3), after the command name, which is
    in parentheses and may hold spaces."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()


def process_ticks(pid):
    """utime + stime of a process, all its threads."""
    fields = _stat_fields(pid)
    return int(fields[11]) + int(fields[12])


def _ticks_with_reaped_children(pid):
    fields = _stat_fields(pid)
    return sum(int(field) for field in fields[11:15])


def tree_ticks(pid):
    """utime + stime of a process and of its reaped children, plus the same of every live
    descendant."""
    total = _ticks_with_reaped_children(pid)
    pending = children(pid)
    while pending:
        child = pending.pop()
        try:
            total += _ticks_with_reaped_children(child)
        except OSError:
            continue
        pending.extend(children(child))
    return total


def children(pid):
    """The PIDs whose parent is `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if int(_stat_fields(entry)[1]) == pid:
                found.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return found


def core_busy_ticks(core):
    """user + nice + system + irq + softirq + steal of one core in /proc/stat: the core's busy
    time, whichever task or interrupt used it."""
    with open("/proc/stat") as stat:
        for line in stat:
            fields = line.split()
            if fields[0] == f"cpu{core}":
                user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[1:9])
                return user + nice + system + irq + softirq + steal
    raise LookupError(f"no cpu{core} in /proc/stat")
