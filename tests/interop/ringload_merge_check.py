"""Checks a `ringload merge --json` document against its parts, independently of ringload:
the counts are the parts' sums, and the percentiles are those of the parts' HdrHistograms
(decoded here from their V2 compressed base64 form) added together.

Usage: python3 ringload_merge_check.py MERGED.json PART.json...
"""

import base64
import json
import math
import struct
import sys
import zlib

# Cookie bases; writers set bits 4-7 to the word size (0x10: LEB128), which are not compared.
V2_COOKIE = 0x1C849303
V2_COMPRESSED_COOKIE = 0x1C849304
COOKIE_BASE_MASK = 0xFFFFFF0F


class Histogram:
    """The counts of an HdrHistogram, with the index-to-value mapping its parameters give."""

    def __init__(self, lowest, highest, sigfig, counts):
        self.parameters = (lowest, highest, sigfig)
        single_unit_resolution = 2 * 10**sigfig
        sub_bucket_count_magnitude = math.ceil(math.log2(single_unit_resolution))
        self.half_count_magnitude = max(sub_bucket_count_magnitude, 1) - 1
        self.half_count = 1 << self.half_count_magnitude
        self.unit_magnitude = int(math.floor(math.log2(lowest)))
        self.counts = counts

    def add(self, other):
        assert self.parameters == other.parameters, (self.parameters, other.parameters)
        length = max(len(self.counts), len(other.counts))
        pad = lambda counts: counts + [0] * (length - len(counts))
        self.counts = [a + b for a, b in zip(pad(self.counts), pad(other.counts))]

    def _bucket(self, index):
        """The value at `index` and the width of the values it stands for."""
        bucket = (index >> self.half_count_magnitude) - 1
        sub_bucket = (index & (self.half_count - 1)) + self.half_count
        if bucket < 0:
            sub_bucket -= self.half_count
            bucket = 0
        return sub_bucket << (bucket + self.unit_magnitude), 1 << (bucket + self.unit_magnitude)

    def total(self):
        return sum(self.counts)

    def value_at_quantile(self, quantile):
        """As the hdrhistogram crate computes it: the highest value equivalent to the bucket
        holding the ceil(quantile * total)-th sample."""
        wanted = max(1, math.ceil(min(quantile, 1.0) * self.total()))
        running = 0
        for index, count in enumerate(self.counts):
            running += count
            if running >= wanted:
                value, width = self._bucket(index)
                return value + width - 1
        raise AssertionError("quantile beyond the counts")


def _varints(payload):
    """HdrHistogram's LEB128 (at most 9 bytes, the 9th whole) ZigZag-encoded counts."""
    position = 0
    while position < len(payload):
        value, shift = 0, 0
        for byte_number in range(9):
            byte = payload[position]
            position += 1
            if byte_number == 8:
                value |= byte << shift
                break
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte & 0x80 == 0:
                break
        yield (value >> 1) ^ -(value & 1)


def decode(text):
    data = base64.b64decode(text)
    cookie, length = struct.unpack(">II", data[:8])
    assert cookie & COOKIE_BASE_MASK == V2_COMPRESSED_COOKIE, hex(cookie)
    data = zlib.decompress(data[8 : 8 + length])
    cookie, payload_length, _offset, sigfig, lowest, highest, _ratio = struct.unpack(">IIIIqqd", data[:40])
    assert cookie & COOKIE_BASE_MASK == V2_COOKIE, hex(cookie)
    counts = []
    for value in _varints(data[40 : 40 + payload_length]):
        if value < 0:
            counts.extend([0] * -value)
        else:
            counts.append(value)
    return Histogram(lowest, highest, sigfig, counts)


def summed(parts, field):
    histogram = decode(parts[0][field])
    for part in parts[1:]:
        histogram.add(decode(part[field]))
    return histogram


def check(merged, parts):
    for count in ("sent", "answered", "lost", "timed_samples", "kod_total", "invalid_total"):
        assert merged[count] == sum(p[count] for p in parts), (count, merged[count], [p[count] for p in parts])
    for field, percentiles in (("latency_histogram_ns", "latency_us"), ("response_histogram_ns", "response_us")):
        histogram = summed(parts, field)
        assert histogram.total() == sum(decode(p[field]).total() for p in parts)
        for name, quantile in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99_9", 0.999)):
            expected = histogram.value_at_quantile(quantile) / 1000.0
            assert merged[percentiles][name] == expected, (percentiles, name, merged[percentiles][name], expected)
    latency = summed(parts, "latency_histogram_ns")
    print(
        "  merged %d parts: %d sent, %d answered, p99 latency %.1f us (from %d samples)"
        % (len(parts), merged["sent"], merged["answered"], merged["latency_us"]["p99"], latency.total())
    )


if __name__ == "__main__":
    documents = [json.load(open(path)) for path in sys.argv[1:]]
    check(documents[0], documents[1:])
