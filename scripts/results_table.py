#!/usr/bin/env python3
"""One results table for a sweep folder: original vs searched test accuracy and FLOPs per network.

  results_table.py OUT NET...   reads OUT/<NET>/original/result.json and OUT/<NET>/searched/result.json

Reads only keys documented in docs/run-directory.md (result.json: test.top1, flops). A result.json whose
schema_version is missing or not SCHEMA_VERSION is refused with one line on stderr and exit code 2.
"""
import json
import os
import sys

# The record version this script reads: kSchemaVersion in include/netadj/run/records.h.
SCHEMA_VERSION = 1


class SchemaError(Exception):
    """A record file with a schema_version this script does not read; str() is the one-line message."""


def load(path):
    """A result.json: None when absent or not readable JSON; SchemaError for another schema_version."""
    try:
        with open(path) as f:
            j = json.load(f)
    except (OSError, ValueError):
        return None
    v = j.get("schema_version") if isinstance(j, dict) else None
    if type(v) is not int or v != SCHEMA_VERSION:
        shown = "(none)" if v is None else json.dumps(v)
        raise SchemaError(f"results_table: {path}: schema_version {shown} is not supported "
                          f"(this script reads {SCHEMA_VERSION})")
    return j


def test_top1(result):
    test = result.get("test")
    return None if not test else test.get("top1")


def row(out, n):
    o = load(os.path.join(out, n, "original", "result.json"))
    s = load(os.path.join(out, n, "searched", "result.json"))
    if not o or not s:
        return f"| {n} | (missing) | | | | |"
    a, b = test_top1(o), test_top1(s)
    if a is None or b is None:
        return f"| {n} | (no test result) | | | | |"
    a, b = 100 * a, 100 * b
    return f"| {n} | {a:.2f} | {b:.2f} | {b - a:+.2f} | {o['flops'] / 1e6:.2f}M | {s['flops'] / 1e6:.2f}M |"


def main():
    if len(sys.argv) < 2:
        print("usage: results_table.py OUT_DIR [NETWORK...]", file=sys.stderr)
        return 2
    out, nets = sys.argv[1], sys.argv[2:]
    try:
        rows = [row(out, n) for n in nets]  # every file is checked before anything is printed
    except SchemaError as e:
        print(e, file=sys.stderr)
        return 2
    print("| network | original top1 | searched top1 | delta | FLOPs original | FLOPs searched |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
