#!/usr/bin/env python3
"""netadj report: tables and figures for a run directory (search, train or compare), written to RUN_DIR/report/.

Reads only the run directory (search.json, times.json, metrics.jsonl, result.json, compare.json,
config.json, and the fur.json of an iteration in progress), and only the keys documented in
docs/run-directory.md, so it works on a finished run and on one still in progress. Record files must
carry the schema_version this script reads (SCHEMA_VERSION); any other, or none, is refused with one
line and exit code 2. A compare.json that is not a JSON object or whose keys have the wrong types is
refused with one line and exit code 3. Figures need matplotlib (Debian: python3-matplotlib); without it
the tables and report.md/report.html are still written.
"""
import base64
import html
import json
import math
import os
import sys
import tempfile

# The record version this script reads: kSchemaVersion in include/netadj/records/records.h.
SCHEMA_VERSION = 1


class SchemaError(Exception):
    """A record file with a schema_version this script does not read; str() is the one-line message."""


class CorruptRecord(Exception):
    """A record file that is not what its format says (exit code 3); str() is the one-line message."""


def load_json(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def load_record(path):
    """A versioned record file (search.json, times.json, result.json, fur.json): None when absent (or not
    readable JSON); SchemaError when its schema_version is missing or not SCHEMA_VERSION."""
    j = load_json(path)
    if j is None:
        return None
    check_version(path, j)
    return j


def check_version(path, j):
    v = j.get("schema_version") if isinstance(j, dict) else None
    if type(v) is not int or v != SCHEMA_VERSION:
        shown = "(none)" if v is None else json.dumps(v)
        raise SchemaError(f"report: {path}: schema_version {shown} is not supported "
                          f"(this report reads {SCHEMA_VERSION})")


def load_jsonl(path):
    rows = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        rows.append(json.loads(line))
                    except ValueError:
                        pass  # a line being written right now
    except OSError:
        pass
    return rows


def write_atomic(path, data, mode="w"):
    d = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
    with os.fdopen(fd, mode) as f:
        f.write(data)
    os.replace(tmp, path)


def human(v):
    v = float(v)
    if v >= 1e9:
        return f"{v / 1e9:.3f}G"
    if v >= 1e6:
        return f"{v / 1e6:.2f}M"
    if v >= 1e3:
        return f"{v / 1e3:.1f}K"
    return f"{v:.0f}"


def pct(x):
    return "-" if x is None else f"{100 * x:.2f}"


def iteration_table(search, times):
    # times.json may list an iteration twice after a crash and resume: the last entry counts.
    tmap = {t["iteration"]: t for t in times or []}
    names = search.get("layer_names", [])
    rows = []
    for it in search.get("iterations", []):
        t = tmap.get(it["iteration"], {})
        test = it.get("test") or {}
        rows.append({
            "iteration": it["iteration"],
            "val_top1": it["val"]["top1"],
            "test_top1": test.get("top1"),
            "flops": it["flops"],
            "params": it["params"],
            "k": it["k"],
            # moved_*: the layers that passed the gate (all candidates without it); older records: top/bottom.
            "widened": [names[i] if i < len(names) else str(i) for i in it.get("moved_top", it["top"])],
            "narrowed": [names[i] if i < len(names) else str(i) for i in it.get("moved_bottom", it["bottom"])],
            "budget_error": it.get("budget_error"),
            # Under a latency budget: the measured latency of what the budget predicts (the folded export at the
            # deployment's batch and threads); else netadj's module at batch 1.
            "latency_ms": it.get("measured_latency_ms") or it.get("latency_ms"),
            "predicted_latency_ms": it.get("predicted_latency_ms"),
            "train_seconds": t.get("train_seconds"),
            "fur_seconds": t.get("fur_seconds"),
        })
    return rows


def table_markdown(rows):
    out = ["| iter | val top1 (%) | test top1 (%) | FLOPs (MACs) | params | latency ms | k | widened | narrowed |"
           " next budget err | train s | FUR s |",
           "|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|"]
    for r in rows:
        ts = "-" if r["train_seconds"] is None else f"{r['train_seconds']:.1f}"
        fs = "-" if r["fur_seconds"] is None else f"{r['fur_seconds']:.1f}"
        be = "-" if r.get("budget_error") is None else f"{100 * r['budget_error']:+.3f}%"
        lat = "-" if r.get("latency_ms") is None else f"{r['latency_ms']:.2f}"
        out.append(f"| {r['iteration']} | {pct(r['val_top1'])} | {pct(r['test_top1'])} | {r['flops']:,} | "
                   f"{human(r['params'])} | {lat} | {r['k']} | {', '.join(r['widened']) or '-'} | "
                   f"{', '.join(r['narrowed']) or '-'} | {be} | {ts} | {fs} |")
    return "\n".join(out)


def stage_bounds(stages):
    return [i for i in range(1, len(stages)) if stages[i] != stages[i - 1]]


def save_figure(plt, fig, outdir, stem):
    """Writes stem.png and stem.svg and closes the figure."""
    fig.tight_layout()
    for ext in ("png", "svg"):
        fig.savefig(os.path.join(outdir, f"{stem}.{ext}"), dpi=120)
    plt.close(fig)
    return stem


def figures(search, rows, outdir):
    """Returns the list of figure stems written, or raises ImportError without matplotlib."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    names = search.get("layer_names", [])
    stages = search.get("layer_stages", [0] * len(names))
    its = search.get("iterations", [])
    if not its:
        return made
    L = len(search["init_channels"])
    x = list(range(L))
    bounds = stage_bounds(stages)

    def save(fig, stem):
        made.append(save_figure(plt, fig, outdir, stem))

    # 1. channels before/after (Figures 3 and 4 of the paper).
    before = search["init_channels"]
    best_rec = search.get("best") or {}  # null before the first iteration is recorded
    best_t = best_rec.get("iteration", len(its) - 1)
    best = best_rec.get("channels") or its[-1]["channels"]
    shown, label = best, f"best iteration {best_t}"
    if best == before and len(its) > 1:
        # The original network was the best: show where the search went instead, and say so.
        last = its[-1]
        shown, label = last["next_channels"], "the last step (best: the original)"
    best = shown
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * L + 2), 3.6))
    colors = ["tab:red" if b > a else "tab:blue" if b < a else "tab:gray" for a, b in zip(before, best)]
    ax.bar([i - 0.2 for i in x], before, width=0.4, color="lightgray", edgecolor="gray", label="original")
    ax.bar([i + 0.2 for i in x], best, width=0.4, color=colors)
    from matplotlib.patches import Patch
    handles = [Patch(facecolor="lightgray", edgecolor="gray", label="original"),
               Patch(color="tab:red", label="searched: wider"), Patch(color="tab:blue", label="searched: narrower"),
               Patch(color="tab:gray", label="searched: same")]
    for b in bounds:
        ax.axvline(b - 0.5, color="black", linestyle=":", linewidth=1)
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=70, fontsize=7)
    ax.set_ylabel("channels")
    ax.set_title(f"{search.get('arch')} channels: original vs {label}", fontsize=10)
    ax.legend(handles=handles, fontsize=7)
    save(fig, "channels")

    # 2. FUR per layer across iterations with standard-error bars (Figure 5).
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * L + 2), 3.6))
    cmap = plt.get_cmap("viridis")
    for j, it in enumerate(its):
        off = (j - (len(its) - 1) / 2) * 0.8 / max(len(its), 1)
        ax.errorbar([i + off for i in x], it["fur"], yerr=it["fur_stderr"], fmt="o", markersize=3, capsize=2,
                    color=cmap(j / max(len(its) - 1, 1)), label=f"iter {it['iteration']}")
    for b in bounds:
        ax.axvline(b - 0.5, color="black", linestyle=":", linewidth=1)
    ax.axhline(0, color="gray", linewidth=0.8)
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=70, fontsize=7)
    ax.set_ylabel("FUR (± standard error)")
    ax.set_title("FLOPs utilization ratio per layer and iteration", fontsize=10)
    ax.legend(fontsize=7, ncol=min(len(its), 5))
    save(fig, "fur")

    # 3. validation accuracy and FLOPs per iteration.
    fig, ax = plt.subplots(figsize=(6, 3.4))
    ii = [r["iteration"] for r in rows]
    ax.plot(ii, [100 * r["val_top1"] for r in rows], "o-", color="tab:green", label="val top1")
    if all(r["test_top1"] is not None for r in rows):
        ax.plot(ii, [100 * r["test_top1"] for r in rows], "s--", color="tab:olive", label="test top1")
    ax.set_xlabel("iteration")
    ax.set_ylabel("accuracy (%)")
    ax2 = ax.twinx()
    ax2.plot(ii, [r["flops"] / 1e6 for r in rows], "^:", color="tab:purple", label="FLOPs")
    ax2.set_ylabel("MFLOPs (MACs)")
    f0 = search.get("f0")
    if f0:
        lo, hi = min(r["flops"] for r in rows), max(r["flops"] for r in rows)
        pad = max(0.05 * f0, hi - lo) / 1e6
        ax2.set_ylim(f0 / 1e6 - pad, f0 / 1e6 + pad)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="lower right")
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("accuracy and FLOPs per iteration")
    save(fig, "accuracy_flops")

    # 4. accuracy against FLOPs and against latency (when every iteration recorded one), one point per
    # iteration's vector.
    with_latency = all(r.get("latency_ms") is not None for r in rows)
    fig, axes = plt.subplots(1, 2 if with_latency else 1, figsize=(9 if with_latency else 5, 3.4), squeeze=False)
    lat_label = ("measured latency, deployed export (ms)" if search.get("budget") == "latency"
                 else "latency, batch 1 (ms)")
    panels = [("flops", 1e-6, "MFLOPs (MACs)")] + ([("latency_ms", 1.0, lat_label)] if with_latency else [])
    for ax, (key, scale, label) in zip(axes[0], panels):
        xs = [r[key] * scale for r in rows]
        ys = [100 * r["val_top1"] for r in rows]
        ax.plot(xs, ys, ":", color="lightgray", zorder=1)
        ax.scatter(xs, ys, c=ii, cmap="viridis", zorder=2)
        for xv, yv, i in zip(xs, ys, ii):
            ax.annotate(str(i), (xv, yv), textcoords="offset points", xytext=(4, 3), fontsize=7)
        ax.set_xlabel(label)
        ax.set_ylabel("val top1 (%)")
    axes[0][0].set_title("accuracy against FLOPs (point: iteration)", fontsize=10)
    if with_latency:
        axes[0][1].set_title(f"accuracy against latency on {search.get('device', 'the run device')}", fontsize=10)
    save(fig, "accuracy_cost")
    return made


def training_figure(metrics, outdir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    if not metrics:
        return []
    # A run resumed after a crash may repeat an epoch's line: keep the last one per (label, epoch).
    last = {}
    for m in metrics:
        last[(m.get("label", ""), m["epoch"])] = m
    metrics = sorted(last.values(), key=lambda m: (m.get("label", ""), m["epoch"]))
    e = [m["epoch"] + 1 for m in metrics]
    fig, ax = plt.subplots(figsize=(6, 3.4))
    ax.plot(e, [m["train_loss"] for m in metrics], label="train loss")
    # The per-epoch evaluation: the validation split, or the test set when training on train+val.
    ev = [m["val"] if m["val"]["n"] > 0 else m.get("test") for m in metrics]
    if any(x is None for x in ev):
        ev = None
    if ev:
        ax.plot(e, [x["loss"] for x in ev], label="eval loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax2 = ax.twinx()
    if ev:
        ax2.plot(e, [100 * x["top1"] for x in ev], "g--", label="eval top1")
    else:
        ax2.plot(e, [100 * m["train_acc"] for m in metrics], "g--", label="train top1")
    ax2.set_ylabel("top1 (%)")
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="center right", fontsize=8)
    ax.set_title("training curves (eval: the split evaluated each epoch)", fontsize=10)
    return [save_figure(plt, fig, outdir, "training")]


def progress_note(run, search, metrics):
    """One line on the iteration in progress of an unfinished search ("" when there is nothing to say)."""
    if search.get("done"):
        return ""
    t = len(search.get("iterations", []))
    idir = os.path.join(run, f"iter_{t}")
    if not os.path.isdir(idir):
        return ""
    fur = load_record(os.path.join(idir, "fur.json"))
    if fur is not None:
        return (f"Iteration {t} in progress: trained, FUR measured (base val top1 {pct(fur['base']['top1'])}%), "
                f"not yet recorded.")
    label = f"iter {t}"
    epochs = {m["epoch"] for m in metrics if m.get("label") == label}
    total = search.get("epochs_per_iteration")
    of = f" of {total}" if total else ""
    return f"Iteration {t} in progress: {len(epochs)}{of} epoch(s) trained."


# netadj compare: DIR/compare.json (docs/run-directory.md, "The compare directory").

KIND_COLORS = {"original": "black", "candidate": "tab:red", "uniform": "tab:blue", "random": "tab:green"}
DASH = "\u2014"  # a value that is null or not there yet


def is_num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def load_compare(path):
    """compare.json: SchemaError (exit 2) for another schema_version; CorruptRecord (exit 3) when it is not
    JSON, not an object, or a documented key has the wrong type. The caller checks that it exists."""
    try:
        with open(path) as f:
            j = json.load(f)
    except ValueError as e:  # written atomically, so never half a file: this one is damaged
        raise CorruptRecord(f"report: {path}: not valid JSON ({e})")
    except OSError as e:
        raise CorruptRecord(f"report: {path}: cannot read ({e.strerror})")
    if not isinstance(j, dict):
        raise CorruptRecord(f"report: {path}: not a JSON object")
    check_version(path, j)
    check_compare(path, j)
    return j


def check_compare(path, j):
    def fail(what):
        raise CorruptRecord(f"report: {path}: {what}")

    def optional(obj, where, key, ok, what):
        if obj.get(key) is not None and not ok(obj[key]):
            fail(f"{where}{key} is not {what}")

    is_str = lambda x: isinstance(x, str)  # noqa: E731
    is_pair = lambda x: isinstance(x, list) and len(x) == 2 and all(is_num(v) for v in x)  # noqa: E731
    for key in ("arch", "dataset", "budget", "device"):
        optional(j, "", key, is_str, "a string")
    for key in ("budget_target", "epochs"):
        optional(j, "", key, is_num, "a number")
    if not isinstance(j.get("seeds"), list) or not all(is_int(x) for x in j["seeds"]):
        fail("seeds is not a list of integers")
    if not isinstance(j.get("done"), bool):
        fail("done is not true or false")
    if not isinstance(j.get("entries"), list):
        fail("entries is not a list")
    for i, e in enumerate(j["entries"]):
        where = f"entries[{i}]."
        if not isinstance(e, dict):
            fail(f"entries[{i}] is not an object")
        if not isinstance(e.get("name"), str) or not e["name"]:
            fail(f"{where}name is not a non-empty string")
        if not isinstance(e.get("kind"), str):
            fail(f"{where}kind is not a string")
        optional(e, where, "source", is_str, "a string or null")
        optional(e, where, "channels", lambda x: isinstance(x, list) and all(is_int(v) for v in x),
                 "a list of integers")
        for key in ("flops", "params", "latency_ms", "mean", "sd", "diff"):
            optional(e, where, key, is_num, "a number or null")
        optional(e, where, "p", lambda x: is_num(x) and 0 <= x <= 1, "a number in [0, 1] or null")
        for key in ("mean_ci95", "ci95"):
            optional(e, where, key, is_pair, "a pair of numbers or null")
        optional(e, where, "runs", lambda x: isinstance(x, list) and all(is_str(v) for v in x), "a list of strings")
        t = e.get("test_top1")
        if not isinstance(t, list) or not all(is_num(x) and 0 <= x <= 1 for x in t):
            fail(f"{where}test_top1 is not a list of fractions in [0, 1]")


def cell(x):
    """A table cell: "|" would split it."""
    return DASH if x is None else str(x).replace("|", "/")


def fmt_num(x, spec):
    return DASH if x is None else format(x, spec)


def fmt_p(p):
    if p is None:
        return DASH
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def fmt_mean_sd(e):
    mean, sd = e.get("mean"), e.get("sd")
    if mean is None:
        return DASH
    return f"{100 * mean:.2f} \u00b1 {DASH if sd is None else f'{100 * sd:.2f}'}"


def fmt_ci_points(ci):
    return DASH if ci is None else f"[{100 * ci[0]:+.2f}, {100 * ci[1]:+.2f}]"


def compare_table(cmp):
    out = ["| name | kind | FLOPs (MACs) | params | latency ms | test top1 (%) mean \u00b1 sd | n | "
           "diff (points) | diff 95% CI | p |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for e in cmp["entries"]:
        flops, params = e.get("flops"), e.get("params")
        diff = e.get("diff")
        out.append(f"| {cell(e['name'])} | {cell(e['kind'])} | {fmt_num(flops, ',.0f')} | "
                   f"{DASH if params is None else human(params)} | {fmt_num(e.get('latency_ms'), '.2f')} | "
                   f"{fmt_mean_sd(e)} | {len(e['test_top1'])} | {DASH if diff is None else f'{100 * diff:+.2f}'} | "
                   f"{fmt_ci_points(e.get('ci95'))} | {fmt_p(e.get('p'))} |")
    return "\n".join(out)


def compare_summary(cmp):
    entries, seeds = cmp["entries"], cmp["seeds"]
    have = sum(len(e["test_top1"]) for e in entries)
    status = "finished" if cmp["done"] else f"in progress ({have} of {len(entries) * len(seeds)} results recorded)"
    target = cmp.get("budget_target")
    target = DASH if target is None else f"{target:,.0f}"
    return (f"{cell(cmp.get('arch'))} on {cell(cmp.get('dataset'))}, {status}: {len(entries)} entries, "
            f"seeds {json.dumps(seeds)}, {cell(cmp.get('epochs'))} epoch(s) per run on {cell(cmp.get('device'))}. "
            f"Controls are rescaled to the original's {cell(cmp.get('budget'))} ({target}). "
            f"n: seeds with a result; diff: difference of the mean from the original's, in percentage points, "
            f"with its Welch 95% interval; p: two-sided Welch t-test; {DASH}: not available (not trained yet, "
            f"or fewer than 2 seeds on a side).")


def compare_figure(cmp, outdir):
    """Mean test top1 per entry with its 95% interval, the seeds as dots, the original's mean as a dashed
    line. Returns the figure stems written ([] when no entry has a result yet); ImportError without
    matplotlib."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    entries = cmp["entries"]
    if not any(e["test_top1"] for e in entries):
        return []
    n = len(entries)
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * n + 2), 3.8))
    handles = []
    orig = next((e for e in entries if e["kind"] == "original" and e.get("mean") is not None), None)
    if orig is not None:
        ax.axhline(100 * orig["mean"], color="gray", linestyle="--", linewidth=1)
        handles.append(Line2D([], [], color="gray", linestyle="--", label="original mean"))
    kinds = []
    for i, e in enumerate(entries):
        color = KIND_COLORS.get(e["kind"], "tab:purple")
        if e["kind"] not in kinds:
            kinds.append(e["kind"])
        vals = e["test_top1"]
        k = len(vals)
        ax.plot([i + 0.2 + 0.06 * (j - (k - 1) / 2) for j in range(k)], [100 * v for v in vals], "o",
                color=color, alpha=0.45, markersize=4, linestyle="none")
        mean, ci = e.get("mean"), e.get("mean_ci95")
        if mean is None:
            continue
        m = 100 * mean
        yerr = None if ci is None else [[max(0.0, m - 100 * ci[0])], [max(0.0, 100 * ci[1] - m)]]
        ax.errorbar([i], [m], yerr=yerr, fmt="o", color=color, markersize=7, capsize=4, elinewidth=1.5)
    for kind in kinds:
        handles.append(Line2D([], [], marker="o", color=KIND_COLORS.get(kind, "tab:purple"), linestyle="none",
                              label=kind))
    handles.append(Line2D([], [], marker="o", color="gray", alpha=0.45, markersize=4, linestyle="none",
                          label="one seed"))
    ax.set_xticks(range(n))
    labels = [e["name"] if e.get("flops") is None else f"{e['name']}\n{human(e['flops'])}" for e in entries]
    ax.set_xticklabels(labels, rotation=30 if n > 6 else 0, fontsize=8)
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_ylabel("test top1 (%), mean and 95% CI")
    title = f"{cmp.get('arch')} on {cmp.get('dataset')}: test top1 over {len(cmp['seeds'])} seed(s)"
    ax.set_title(title if cmp["done"] else title + " (in progress)", fontsize=10)
    ax.legend(handles=handles, fontsize=7)
    return [save_figure(plt, fig, outdir, "compare")]


def compare_report(run, path, config):
    cmp = load_compare(path)
    outdir = os.path.join(run, "report")
    os.makedirs(outdir, exist_ok=True)
    table = compare_table(cmp)
    write_atomic(os.path.join(outdir, "compare.md"), table + "\n")
    channels = "\n".join(f"{e['name']} ({e['kind']}" + (f", {e['source']}" if e.get("source") else "") +
                         f"): {json.dumps(e.get('channels'))}" for e in cmp["entries"])
    sections = [("Comparison", "text", compare_summary(cmp)), ("Entries", "table", table),
                ("Channels", "pre", channels)]
    figs, note = [], ""
    try:
        figs += compare_figure(cmp, outdir)
    except ImportError:
        note = skipped_figures_note()
    sections.append(("Config", "pre", json.dumps(config, indent=1)))
    return write_report(run, outdir, sections, figs, note)


def to_html(md_title, sections, outdir, figs):
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(md_title)}</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px}pre{background:#f6f6f6;padding:8px;"
             "overflow-x:auto}</style></head><body>", f"<h1>{html.escape(md_title)}</h1>"]
    for title, kind, body in sections:
        parts.append(f"<h2>{html.escape(title)}</h2>")
        if kind == "table":
            lines = [l for l in body.splitlines() if l.strip()]
            parts.append("<table>")
            for k, line in enumerate(lines):
                if k == 1:
                    continue
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                tag = "th" if k == 0 else "td"
                parts.append("<tr>" + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in cells) + "</tr>")
            parts.append("</table>")
        elif kind == "pre":
            parts.append(f"<pre>{html.escape(body)}</pre>")
        else:
            parts.append(f"<p>{html.escape(body)}</p>")
    for stem in figs:
        with open(os.path.join(outdir, f"{stem}.png"), "rb") as f:
            b64 = base64.b64encode(f.read()).decode()
        parts.append(f"<h2>{html.escape(stem)}</h2><img alt='{stem}' style='max-width:100%' "
                     f"src='data:image/png;base64,{b64}'>")
    parts.append("</body></html>")
    return "\n".join(parts)


def main():
    if len(sys.argv) != 2:
        print("usage: report.py RUN_DIR", file=sys.stderr)
        return 2
    run = sys.argv[1]
    if not os.path.isdir(run):
        print(f"report: {run}: run directory not found", file=sys.stderr)
        return 3
    try:
        return report(run)
    except SchemaError as e:
        print(e, file=sys.stderr)
        return 2
    except CorruptRecord as e:
        print(e, file=sys.stderr)
        return 3


def report(run):
    config = load_json(os.path.join(run, "config.json"), {})
    compare_path = os.path.join(run, "compare.json")
    if os.path.exists(compare_path):
        return compare_report(run, compare_path, config)
    search = load_record(os.path.join(run, "search.json"))
    times_rec = load_record(os.path.join(run, "times.json"))
    times = times_rec.get("iterations") if times_rec else []
    result = load_record(os.path.join(run, "result.json"))
    metrics = load_jsonl(os.path.join(run, "metrics.jsonl"))
    if search is None and result is None and not metrics:
        print(f"report: {run}: no search.json, result.json, compare.json or metrics.jsonl yet", file=sys.stderr)
        return 3
    progress = progress_note(run, search, metrics) if search is not None else ""
    outdir = os.path.join(run, "report")
    os.makedirs(outdir, exist_ok=True)

    sections, figs, note = [], [], ""
    rows = []
    if search is not None:
        rows = iteration_table(search, times)
        table = table_markdown(rows)
        write_atomic(os.path.join(outdir, "iterations.md"), table + "\n")
        write_atomic(os.path.join(outdir, "iterations.json"), json.dumps(rows, indent=1) + "\n")
        status = "in progress"
        if search.get("done"):
            why = search.get("stopped") or ("patience" if search.get("stopped_early") else "iterations")
            status = {"patience": "finished (stopped early: no improvement)",
                      "converged": "finished (converged: no layer passed the FUR gate)"}.get(why, "finished")
        text = (f"{search.get('arch')} depth {search.get('depth')}, {status}, "
                f"{len(rows)} iteration(s) recorded, starting FLOPs {search.get('f0', 0):,} MACs.")
        if progress:
            text += " " + progress
        sections.append(("Search", "text", text))
        sections.append(("Iterations", "table", table))
        sel = search.get("selection")
        if isinstance(sel, dict) and sel.get("candidates"):
            lines = ["| candidate | iteration | val top1 per seed (%) | mean (%) | channels |", "|---:|---:|---|---:|---|"]
            for i, c in enumerate(sel["candidates"]):
                seeds = ", ".join(pct(v) for v in c.get("val_top1") or []) or "-"
                mean = "-" if c.get("mean") is None else pct(c["mean"])
                mark = " (chosen)" if sel.get("chosen") == i else ""
                lines.append(f"| {i}{mark} | {c.get('iteration')} | {seeds} | {mean} | {json.dumps(c.get('channels'))} |")
            sections.append((f"Selection by re-training ({sel.get('seeds')} seeds each)", "table", "\n".join(lines)))
        best = search.get("best")
        if best:
            how = "mean of re-trainings" if best.get("selected_by") == "retrain" else "single seed"
            sections.append(("Best channels", "pre", f"iteration {best['iteration']}, val top1 "
                             f"{pct(best['val_top1'])}% ({how}), FLOPs {best['flops']:,}\n{json.dumps(best['channels'])}"))
    if result is not None:
        keys = ("arch", "flops", "params", "epochs", "train_split", "final_eval", "test", "seconds")
        sections.append(("Training result", "pre", json.dumps({k: result.get(k) for k in keys}, indent=1)))
        sections.append(("Trained channels", "pre", json.dumps(result.get("channels"))))
    try:
        if search is not None:
            figs += figures(search, rows, outdir)
        if search is None:
            figs += training_figure(metrics, outdir)
    except ImportError:
        note = skipped_figures_note()
    sections.append(("Config", "pre", json.dumps(config, indent=1)))
    return write_report(run, outdir, sections, figs, note)


def skipped_figures_note():
    note = ("Figures were skipped: matplotlib is not installed. Install it with "
            "`apt-get install python3-matplotlib` (or `pip install matplotlib`) and run `netadj report` again.")
    print(f"report: {note}", file=sys.stderr)
    return note


def write_report(run, outdir, sections, figs, note):
    """report.md and report.html from (title, kind, body) sections and the figure stems written."""
    title = f"netadj report: {os.path.basename(os.path.abspath(run))}"
    md = [f"# {title}", ""]
    for t, kind, body in sections:
        md += [f"## {t}", ""]
        md += [body if kind != "pre" else f"```\n{body}\n```", ""]
    for stem in figs:
        md += [f"![{stem}]({stem}.png)", ""]
    if note:
        md += [f"> {note}", ""]
    write_atomic(os.path.join(outdir, "report.md"), "\n".join(md))
    write_atomic(os.path.join(outdir, "report.html"), to_html(title, sections, outdir, figs))
    print(os.path.join(outdir, "report.md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
