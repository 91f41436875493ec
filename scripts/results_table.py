#!/usr/bin/env python3
"""One results table for a sweep folder: every entry of each network's `netadj compare` (the original
channels, the searched ones and the controls), with FLOPs, parameters and test accuracy over seeds.

  results_table.py OUT NET...   reads OUT/<NET>/compare/compare.json

Reads only keys documented in docs/run-directory.md (compare.json: entries[].name, kind, flops, params,
test_top1, mean, sd, diff, p). A compare.json whose schema_version is missing or not SCHEMA_VERSION is
refused with one line on stderr and exit code 2; one that is not a JSON object, or whose entries are not
as documented, with one line and exit code 3. A network without compare.json is shown as missing; values
not there yet (an unfinished compare, fewer than 2 seeds) as "—".
"""
import json
import math
import os
import sys

# The record version this script reads: kSchemaVersion in include/netadj/records/records.h.
SCHEMA_VERSION = 1
DASH = "\u2014"


class SchemaError(Exception):
    """A record file with a schema_version this script does not read; str() is the one-line message."""


class CorruptRecord(Exception):
    """A compare.json that is not what docs/run-directory.md describes; str() is the one-line message."""


def is_num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def load(path):
    """A compare.json: None when absent; SchemaError for another schema_version; CorruptRecord when it is
    not JSON, not an object, or an entry's keys used here have the wrong type."""
    try:
        with open(path) as f:
            j = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:  # written atomically: a file that does not parse is damaged
        raise CorruptRecord(f"results_table: {path}: cannot read it as JSON ({e})")
    if not isinstance(j, dict):
        raise CorruptRecord(f"results_table: {path}: not a JSON object")
    v = j.get("schema_version")
    if type(v) is not int or v != SCHEMA_VERSION:
        shown = "(none)" if v is None else json.dumps(v)
        raise SchemaError(f"results_table: {path}: schema_version {shown} is not supported "
                          f"(this script reads {SCHEMA_VERSION})")
    entries = j.get("entries")
    ok = isinstance(entries, list) and all(
        isinstance(e, dict) and isinstance(e.get("name"), str) and isinstance(e.get("kind"), str)
        and isinstance(e.get("test_top1"), list)
        and all(e.get(k) is None or is_num(e[k]) for k in ("flops", "params", "mean", "sd", "diff", "p"))
        for e in entries)
    if not ok:
        raise CorruptRecord(f"results_table: {path}: entries are not as docs/run-directory.md describes")
    return j


def num(x, spec, scale=1, unit=""):
    return DASH if x is None else format(scale * x, spec) + unit


def rows(out, n):
    c = load(os.path.join(out, n, "compare", "compare.json"))
    if c is None:
        return [f"| {n} | (missing) | | | | | | | |"]
    status = "" if c.get("done") is True else " (in progress)"
    lines = []
    for e in c["entries"]:
        mean, sd = e.get("mean"), e.get("sd")
        top1 = DASH if mean is None else f"{100 * mean:.2f} \u00b1 {num(sd, '.2f', 100)}"
        p = e.get("p")
        p = DASH if p is None else ("<0.001" if p < 0.001 else f"{p:.3f}")
        name, kind = (x.replace("|", "/") for x in (e["name"], e["kind"]))  # "|" would split the cell
        lines.append(f"| {n}{status} | {name} | {kind} | {num(e.get('flops'), '.2f', 1e-6, 'M')} | "
                     f"{num(e.get('params'), '.3f', 1e-6, 'M')} | {top1} | {len(e['test_top1'])} | "
                     f"{num(e.get('diff'), '+.2f', 100)} | {p} |")
    return lines or [f"| {n}{status} | (no entries) | | | | | | | |"]


def main():
    if len(sys.argv) < 2:
        print("usage: results_table.py OUT_DIR [NETWORK...]", file=sys.stderr)
        return 2
    out, nets = sys.argv[1], sys.argv[2:]
    try:
        table = [r for n in nets for r in rows(out, n)]  # every file is checked before anything is printed
    except SchemaError as e:
        print(e, file=sys.stderr)
        return 2
    except CorruptRecord as e:
        print(e, file=sys.stderr)
        return 3
    print("| network | entry | kind | FLOPs | params | test top1 (%) mean \u00b1 sd | seeds | diff (points) | p |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in table:
        print(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
