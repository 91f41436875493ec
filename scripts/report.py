#!/usr/bin/env python3
"""netadj report: tables and figures for a run directory (search or train), written to RUN_DIR/report/.

Reads only the run directory (search.json, times.json, metrics.jsonl, result.json, config.json, and the
fur.json of an iteration in progress), and only the keys documented in docs/run-directory.md, so it
works on a finished run and on one still in progress. Record files must carry the schema_version this
script reads (SCHEMA_VERSION); any other, or none, is refused with one line and exit code 2. Figures
need matplotlib (Debian: python3-matplotlib); without it the tables and report.md/report.html are still
written.
"""
import base64
import html
import json
import os
import sys
import tempfile

# The record version this script reads: kSchemaVersion in include/netadj/run/records.h.
SCHEMA_VERSION = 1


class SchemaError(Exception):
    """A record file with a schema_version this script does not read; str() is the one-line message."""


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
    v = j.get("schema_version") if isinstance(j, dict) else None
    if type(v) is not int or v != SCHEMA_VERSION:
        shown = "(none)" if v is None else json.dumps(v)
        raise SchemaError(f"report: {path}: schema_version {shown} is not supported "
                          f"(this report reads {SCHEMA_VERSION})")
    return j


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
            "widened": [names[i] if i < len(names) else str(i) for i in it["top"]],
            "narrowed": [names[i] if i < len(names) else str(i) for i in it["bottom"]],
            "train_seconds": t.get("train_seconds"),
            "fur_seconds": t.get("fur_seconds"),
        })
    return rows


def table_markdown(rows):
    out = ["| iter | val top1 (%) | test top1 (%) | FLOPs (MACs) | params | k | widened | narrowed | train s | FUR s |",
           "|---:|---:|---:|---:|---:|---:|---|---|---:|---:|"]
    for r in rows:
        ts = "-" if r["train_seconds"] is None else f"{r['train_seconds']:.1f}"
        fs = "-" if r["fur_seconds"] is None else f"{r['fur_seconds']:.1f}"
        out.append(f"| {r['iteration']} | {pct(r['val_top1'])} | {pct(r['test_top1'])} | {r['flops']:,} | "
                   f"{human(r['params'])} | {r['k']} | {', '.join(r['widened']) or '-'} | "
                   f"{', '.join(r['narrowed']) or '-'} | {ts} | {fs} |")
    return "\n".join(out)


def stage_bounds(stages):
    return [i for i in range(1, len(stages)) if stages[i] != stages[i - 1]]


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
        fig.tight_layout()
        for ext in ("png", "svg"):
            fig.savefig(os.path.join(outdir, f"{stem}.{ext}"), dpi=120)
        plt.close(fig)
        made.append(stem)

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
    fig.tight_layout()
    for ext in ("png", "svg"):
        fig.savefig(os.path.join(outdir, f"training.{ext}"), dpi=120)
    plt.close(fig)
    return ["training"]


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


def report(run):
    config = load_json(os.path.join(run, "config.json"), {})
    search = load_record(os.path.join(run, "search.json"))
    times_rec = load_record(os.path.join(run, "times.json"))
    times = times_rec.get("iterations") if times_rec else []
    result = load_record(os.path.join(run, "result.json"))
    metrics = load_jsonl(os.path.join(run, "metrics.jsonl"))
    if search is None and result is None and not metrics:
        print(f"report: {run}: no search.json, result.json or metrics.jsonl yet", file=sys.stderr)
        return 3
    progress = progress_note(run, search, metrics) if search is not None else ""
    outdir = os.path.join(run, "report")
    os.makedirs(outdir, exist_ok=True)

    sections, figs, note = [], [], ""
    title = f"netadj report: {os.path.basename(os.path.abspath(run))}"
    rows = []
    if search is not None:
        rows = iteration_table(search, times)
        table = table_markdown(rows)
        write_atomic(os.path.join(outdir, "iterations.md"), table + "\n")
        write_atomic(os.path.join(outdir, "iterations.json"), json.dumps(rows, indent=1) + "\n")
        status = "in progress"
        if search.get("done"):
            status = "finished (stopped early: no improvement)" if search.get("stopped_early") else "finished"
        text = (f"{search.get('arch')} depth {search.get('depth')}, {status}, "
                f"{len(rows)} iteration(s) recorded, starting FLOPs {search.get('f0', 0):,} MACs.")
        if progress:
            text += " " + progress
        sections.append(("Search", "text", text))
        sections.append(("Iterations", "table", table))
        best = search.get("best")
        if best:
            sections.append(("Best channels", "pre", f"iteration {best['iteration']}, val top1 "
                             f"{pct(best['val_top1'])}%, FLOPs {best['flops']:,}\n{json.dumps(best['channels'])}"))
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
        note = ("Figures were skipped: matplotlib is not installed. Install it with "
                "`apt-get install python3-matplotlib` (or `pip install matplotlib`) and run `netadj report` again.")
        print(f"report: {note}", file=sys.stderr)
    sections.append(("Config", "pre", json.dumps(config, indent=1)))

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
