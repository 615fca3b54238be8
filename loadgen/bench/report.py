"""Report writing: templates, number formats, tables, and a section's place between markers."""

import os
import string
import sys
from pathlib import Path

from bench import log

TEMPLATES = Path(__file__).resolve().parent / "templates"


def render(template, **values):
    """templates/TEMPLATE with its $placeholders filled, ending in one newline (a placeholder
    that ends the text may be empty). A placeholder left unfilled fails."""
    text = string.Template((TEMPLATES / template).read_text()).substitute(values)
    return text.rstrip() + "\n"


def fixed(value, digits):
    """`value` with thousands separators and `digits` decimals; "n/a" when it is missing."""
    return "n/a" if value is None else f"{value:,.{digits}f}"


def table(header, rows):
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def run_table(runs, servers, figures, rounds):
    """Every run of every figure as a table: one row per figure and server, with the notes of
    its runs. `figures`: (key, decimals) pairs."""
    rows = []
    for key, digits in figures:
        for server in servers:
            these = runs.of(key, server)
            if not these:
                continue
            by_round = {run.round: run for run in these}
            cells = [fixed(by_round[number].value, digits) if number in by_round else "—"
                     for number in range(1, rounds + 1)]
            notes = "; ".join(sorted({run.note for run in these if run.note}))
            rows.append([key, server, *cells, notes])
    header = ["figure", "server", *(f"round {number}" for number in range(1, rounds + 1)), "notes"]
    return table(header, rows)


def markers(name):
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def between_markers(name, section):
    """`section` as it stands in a file: between its markers, ending with a newline."""
    begin, end = markers(name)
    return f"{begin}\n{section.rstrip()}\n{end}\n"


def place(text, name, section):
    """`text` with `section` in place of what its markers `name` enclose, everything outside
    them unchanged. Without the markers the section is added at the end after a blank line;
    an empty text becomes a page of its own."""
    begin, end = markers(name)
    block = between_markers(name, section)
    head, found, rest = text.partition(begin)
    if found and end in rest:
        tail = rest.split(end, 1)[1]
        return head + block + tail.removeprefix("\n")
    if not text:
        return "# Benchmarks\n\n" + block
    return text.rstrip("\n") + "\n\n" + block


def publish(section, name, out):
    """Prints `section` between its markers and, unless `out` is None or "-", puts it in the
    file `out` (see `place`), replacing the file in one step."""
    sys.stdout.write(between_markers(name, section))
    sys.stdout.flush()
    if out is None or str(out) == "-":
        return
    out = Path(out)
    text = out.read_text() if out.exists() else ""
    partial = out.with_name(out.name + ".partial")
    partial.write_text(place(text, name, section))
    os.replace(partial, out)
    log(f"wrote {out}")


def ratio_goal_met(goals, key, ratio):
    """"yes" or "no" for a figure whose goal in `goals` is a (">=" or "<=", factor) bound on
    `ratio`; "" when it has none or the ratio is missing."""
    if key not in goals or ratio is None:
        return ""
    direction, factor = goals[key]
    met = ratio >= factor if direction == ">=" else ratio <= factor
    return "yes" if met else "no"


def run_fields(setup):
    """The fields every report's template takes from its run's setup: the command, when, how
    long, on what machine."""
    return dict(command=setup.command, date=setup.date, elapsed=setup.elapsed_s,
                machine=setup.machine.line())
