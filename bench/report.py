"""Writes docs/performance.md (and its plot) from bench/results/compare.json and
bench/results/growth.json: `bench/run doc`, or `--write-doc` on compare / growth.

Everything above the line "## Notes" is generated; the notes below it are written by
hand and kept as they are when the page is rewritten.
"""
import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DOC = ROOT / "docs" / "performance.md"
PLOT = ROOT / "docs" / "performance-lateness.png"
COMPARE = BENCH / "results" / "compare.json"
GROWTH = BENCH / "results" / "growth.json"
NOTES_HEADING = "## Notes"

CASE_TITLES = {
    "burst": "{n:,} due at second 0",
    "spread": "{n:,} spread over the minute",
    "burst1k": "{n:,} due at second 0",
}
SYSTEM_TITLES = {
    "chronoflow": "ChronoFlow",
    "apscheduler": "APScheduler 3.11, 20 threads",
    "polling": "the original design (30 s poll)",
}
CASE_ORDER = ["burst1k", "burst", "spread"]
SYSTEM_ORDER = ["chronoflow", "apscheduler", "polling"]
PAGE_TARGET_MS = 50.0


def _s(v):
    return "–" if v is None else (f"{v:.3f} s" if v < 1 else f"{v:.2f} s")


def load(path):
    return json.loads(path.read_text()) if path.exists() else None


def ordered_runs(compare):
    runs = compare["runs"] if compare else {}
    keyed = [(CASE_ORDER.index(r["case"]) if r["case"] in CASE_ORDER else 9,
              SYSTEM_ORDER.index(r["system"]) if r["system"] in SYSTEM_ORDER else 9, r) for r in runs.values()]
    return [r for _, _, r in sorted(keyed, key=lambda t: (t[0], t[1]))]


def results_table(runs):
    lines = [
        "| case (every minute) | system | p50 | p99 | max | misses/dups | CPU per run | run rows (ChronoFlow) | host meanwhile |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    last_case = None
    for r in runs:
        case = CASE_TITLES.get(r["case"], r["case"]).format(n=r["chronos"]) if r["case"] != last_case else ""
        last_case = r["case"]
        cpu = r["cpu"]
        parts = ", ".join(f"{k} {1000 * v / max(1, r['runs']):.2f}" for k, v in sorted(cpu["parts"].items()))
        cpu_cell = f"{r['cpu_per_run_ms']:.2f} ms" + (f" ({parts})" if len(cpu["parts"]) > 1 else "")
        db = r.get("db")
        rows = "–"
        if db:
            rows = ("one final row each" if db["one_final_row_each"] else
                    f"**{db['missing_rows']} missing, {db['duplicate_rows']} dup, {db['not_final']} not final**")
        host = (f"load {cpu['load_start'][0]:.1f}→{cpu['load_end'][0]:.1f}; others {cpu['others']:.0f} core-s "
                f"of {cpu['seconds'] * cpu['cores']:.0f} ({_top(cpu)})")
        lines.append(f"| {case} | {SYSTEM_TITLES.get(r['system'], r['system'])} | {_s(r['p50'])} | {_s(r['p99'])} | "
                     f"{_s(r['max'])} | {r['misses']}/{r['duplicates']} | {cpu_cell} | {rows} | {host} |")
    return "\n".join(lines)


def _top(cpu):
    return ", ".join(f"{name} {value:.0f}" for name, value in cpu["others_top"][:2] if value >= 0.5) or "little"


def plot(runs):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = [c for c in CASE_ORDER if any(r["case"] == c for r in runs)]
    if not cases:
        return False
    fig, axes = plt.subplots(1, len(cases), figsize=(5 * len(cases), 4), squeeze=False)
    for ax, case in zip(axes[0], cases):
        for r in runs:
            if r["case"] != case or not r["quantiles"]:
                continue
            qs = [max(q, 1e-3) for q in r["quantiles"]]
            ax.plot(qs, [i / 2 for i in range(len(qs))], label=SYSTEM_TITLES.get(r["system"], r["system"]))
        chronos = next(r["chronos"] for r in runs if r["case"] == case)
        ax.set_title(CASE_TITLES[case].format(n=chronos) + ", every minute")
        ax.set_xscale("log")
        ax.set_xlabel("lateness at the sink (s, log)")
        ax.set_ylabel("% of calls at most this late")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(PLOT, dpi=90)
    plt.close(fig)
    return True


def _find(runs, case, system="chronoflow"):
    return next((r for r in runs if r["case"] == case and r["system"] == system), None)


def _verdict(measured, target):
    if measured is None:
        return "not measured", ""
    if measured <= target:
        return "**met**", ""
    return "**missed**", f"{measured / target:.1f}× the target (+{measured - target:.3g})"


def _cpu_floor(r):
    """The wall time the system's CPU alone needs for one minute's burst on this host."""
    per_minute = r["cpu_per_run_ms"] / 1000 * r["chronos"]
    return per_minute / r["cpu"]["cores"]


def _busy(r):
    cpu = r["cpu"]
    return f"; other processes used {100 * cpu['others'] / max(1e-9, cpu['seconds'] * cpu['cores']):.0f}% of the host meanwhile"


def targets_table(runs, growth):
    rows = []

    def add(target, measured_text, verdict, why):
        rows.append(f"| {target} | {measured_text} | {verdict[0]} | {verdict[1]} | {why} |")

    burst = _find(runs, "burst")
    if burst:
        floor = _cpu_floor(burst)
        why = (f"CPU per run {burst['cpu_per_run_ms']:.2f} ms × {burst['chronos']:,} runs / "
               f"{burst['cpu']['cores']} cores = {floor:.1f} s of both cores a minute" + _busy(burst))
        add(f"{burst['chronos']:,} at one second: last call ≤ 2 s", _s(burst["max"]), _verdict(burst["max"], 2.0), why)
        add("… p99 ≤ 1.5 s", _s(burst["p99"]), _verdict(burst["p99"], 1.5), why)
        ok = burst["misses"] == 0 and burst["duplicates"] == 0
        add("… zero misses and duplicates", f"{burst['misses']}/{burst['duplicates']}",
            ("**met**" if ok else "**missed**", ""), "")
        db = burst.get("db") or {}
        add("… every run one final row", "yes" if db.get("one_final_row_each") else f"no: {db}",
            ("**met**" if db.get("one_final_row_each") else "**missed**", ""), "")
    small = _find(runs, "burst1k")
    if small:
        add(f"{small['chronos']:,} at once: p99 ≤ 0.2 s", _s(small["p99"]), _verdict(small["p99"], 0.2),
            f"CPU per run {small['cpu_per_run_ms']:.2f} ms × {small['chronos']:,} / {small['cpu']['cores']} cores "
            f"= {_cpu_floor(small):.2f} s of both cores a minute" + _busy(small))
    spread = _find(runs, "spread")
    if spread:
        add(f"spread {spread['chronos']:,} a minute: p99 ≤ 0.1 s", _s(spread["p99"]), _verdict(spread["p99"], 0.1),
            "see the notes" + _busy(spread))
    for r in (burst, spread, small):
        if r:
            v = _verdict(r["cpu_per_run_ms"], 0.4)
            parts = ", ".join(f"{k} {1000 * c / max(1, r['runs']):.2f}" for k, c in sorted(r["cpu"]["parts"].items()))
            add(f"CPU per run ≤ 0.4 ms ({r['case']})", f"{r['cpu_per_run_ms']:.2f} ms",
                (v[0], f"{r['cpu_per_run_ms'] / 0.4:.1f}× the target" if v[0] == "**missed**" else ""),
                f"whole system: {parts} ms")
    creates = [r["extra"].get("create_per_s") for r in runs if r["system"] == "chronoflow" and r["extra"].get("create_per_s")]
    if creates:
        best = max(creates)
        rate = f"{min(creates):.0f}–{best:.0f}/s" if min(creates) < best else f"{best:.0f}/s"
        add("creating chronos one by one through `POST /api/chronos` ≥ 300/s",
            f"{rate} (4 clients at once; per case)",
            ("**met**" if best >= 300 else "**missed**", "" if best >= 300 else f"{300 / best:.1f}× too slow"),
            "each request validates, commits the chrono and dispatches its first runs in the request")
    if growth:
        slow = [p for p in growth["pages"] if p["median_ms"] > PAGE_TARGET_MS]
        worst = max(growth["pages"], key=lambda p: p["median_ms"])
        add(f"every dashboard page and API list < 50 ms at {growth['runs']:,} runs",
            f"worst: {worst['name']} {worst['median_ms']:.0f} ms",
            ("**met**" if not slow else "**missed**", f"{len(slow)} of {len(growth['pages'])} pages over"),
            "see *When the data grows*")
        tick = growth.get("tick")
        if tick:
            why = (f"{tick['cpu_seconds']:.2f} s of it is CPU in the app's process; the rest waits on PostgreSQL "
                   "(the inserts) and Redis (the tasks)") if "cpu_seconds" in tick else ""
            add(f"dispatcher tick at {growth['chronos']:,} chronos < 0.5 s", f"{tick['seconds']:.2f} s "
                f"({tick['runs']:,} runs written)", _verdict(tick["seconds"], 0.5), why)
            add("… ≤ 0.03 ms per run written", f"{tick['ms_per_run']:.3f} ms", _verdict(tick["ms_per_run"], 0.03), "")
    head = ["| target | measured | | by how much | why |", "|---|---|---|---|---|"]
    return "\n".join(head + rows)


def growth_table(growth):
    lines = ["| page | median | all timings (ms) | |", "|---|---|---|---|"]
    for p in growth["pages"]:
        flag = "**> 50 ms**" if p["median_ms"] > PAGE_TARGET_MS else "ok"
        lines.append(f"| {p['name']} | {p['median_ms']:.1f} ms | {', '.join(f'{t:.0f}' for t in p['all_ms'])} | {flag} |")
    tick = growth.get("tick")
    if tick:
        flag = "**> 0.5 s**" if tick["seconds"] > 0.5 else "ok"
        lines.append(f"| dispatcher tick ({tick['runs']:,} runs written for the next minute) | "
                     f"{tick['seconds'] * 1000:.0f} ms | {tick['ms_per_run']:.3f} ms per run written | {flag} |")
    return "\n".join(lines)


def write():
    compare, growth = load(COMPARE), load(GROWTH)
    runs = ordered_runs(compare)
    notes = ""
    if DOC.exists():
        text = DOC.read_text()
        at = text.find("\n" + NOTES_HEADING)
        if at >= 0:
            notes = text[at + 1:]
    if not notes:
        notes = NOTES_HEADING + " (written by hand; `bench/run doc` keeps this section)\n\n(none yet)\n"
    out = ["# Performance", "",
           "<!-- Generated by bench/report.py from bench/results/*.json: `bench/run doc` rewrites everything above "
           "the Notes heading. -->", "",
           "How punctual ChronoFlow is, and what it costs, beside two peers on the same machine and the same sink: "
           "APScheduler 3.11 with a pool of 20 threads, and the original design (a loop that polls a table of "
           "next-run times every 30 s and fires what is due with 20 threads). The peers write no history; "
           "ChronoFlow records every run in PostgreSQL.", ""]
    if runs:
        metas = {}
        for r in runs:
            metas.setdefault(r["meta"]["command"], r["meta"])
        out += ["## N chronos every minute", "", "Made by:", ""]
        for command, meta in metas.items():
            out += [f"- `{command}` ({meta['date']}; code {meta['code']})"]
        out += ["", f"Host: {runs[-1]['meta']['host']}. The host is shared with other engineers' test suites: "
                "*host meanwhile* is the load average at the start and the end of the counted minutes, and the CPU "
                "that processes other than the system, the sink and the bench used in them (the top two commands "
                "by name).", "",
                "How: each system in turn gets N chronos; one warm-up minute, then whole minutes counted. "
                "Lateness is the arrival of the call at the sink minus its scheduled second (the first call "
                "of each occurrence); a miss is an occurrence of the counted minutes that never arrived (after "
                "a drain of up to 45 s), a duplicate a second call for the same occurrence. CPU per run is "
                "utime + stime from /proc over the counted minutes, divided by the occurrences in them, for the "
                "whole system: ChronoFlow's gunicorn (2 web workers) and its 2 workers (`flask worker`, "
                "`flask worker --no-periodic`), the PostgreSQL backends of its database and the Redis server; "
                "a peer's one process. ChronoFlow's chronos are created through `POST /api/chronos` with a "
                "token, the burst ones with `* * * * *`, the spread ones with `S * * * * *` (chrono i at second "
                "i mod 60). *Run rows*: every occurrence of the counted minutes has exactly one row in "
                "`chrono_runs`, with a final status.", "",
                results_table(runs), ""]
        if plot(runs):
            out += [f"![Lateness per system and case]({PLOT.name})", "",
                    "Each curve: the share of calls (y) at most this late (x, log scale).", ""]
    if growth:
        out += ["## When the data grows", "", f"Made by `{growth['command']}` ({growth['date']}; code "
                f"{growth['code']}): PostgreSQL with {growth['runs']:,} runs and {growth['chronos']:,} chronos "
                f"(one chrono holds {growth['big_chrono_runs']:,} of the runs), inserted set-based. Each page is "
                f"requested {growth['repeat']} times through the app (Flask's test client, signed in; no network) "
                f"after one unmeasured request; the median is shown, over {PAGE_TARGET_MS:.0f} ms flagged. "
                f"Host: {growth['host']}; load {growth['load'][0]:.1f} at the start.", "",
                growth_table(growth), ""]
    out += ["## Targets (issue 16)", "", targets_table(runs, growth), ""]
    DOC.write_text("\n".join(out) + "\n" + notes)


if __name__ == "__main__":
    write()
    print(f"wrote {DOC.relative_to(ROOT)}", file=sys.stderr)
