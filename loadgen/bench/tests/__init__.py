"""Unit tests of the benchmarks' pure parts: medians, round order, /proc/net tables, reports."""
