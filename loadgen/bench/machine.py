"""What a report says about the machine: CPU, cores, kernel, load, the time, program versions."""

import datetime
import os
import subprocess
from dataclasses import dataclass


@dataclass(frozen=True)
class Machine:
    cpu: str
    cores: int
    kernel: str
    load: str

    def line(self):
        return (f"- Machine: {self.cpu}, {self.cores} cores, Linux {self.kernel}; "
                f"load average at the start {self.load}.")


def this_machine(load):
    """This machine, with `load`: the load average read when the runs started."""
    return Machine(cpu_model(), len(os.sched_getaffinity(0)), os.uname().release, load)


def load_average():
    with open("/proc/loadavg") as loadavg:
        return " ".join(loadavg.read().split()[:3])


def cpu_model():
    for line in output(["lscpu"]).splitlines():
        if line.startswith("Model name:"):
            return line.removeprefix("Model name:").strip()
    return ""


def output(argv):
    """What `argv` prints on stdout."""
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def first_line(argv):
    lines = output(argv).splitlines()
    return lines[0] if lines else ""


def ringd_version(ringd):
    """The version `ringd --version` gives, without the name."""
    return first_line([ringd, "--version"]).removeprefix("ringd ")


def curl_version():
    return first_line(["curl", "--version"]).split(" ")[1]


def debian_version(package):
    return output(["dpkg-query", "-W", "-f=${Version}", package])


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
