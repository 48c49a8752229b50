#!/usr/bin/env python3
"""Turns the raw results of run.sh into the markdown table of docs/performance.md.

    report.py RESULTS_TSV

Each line of RESULTS_TSV is one measurement (the warm-up run is not written there):
bench, case, tool, run, metric, unit, better ("lower" or "higher"), value, cpu_s, rss_kib
(cpu_s: bitsd + client, or the peer's; rss_kib: the engine's peak RSS; "-" when not measured).
Per (bench, case, metric, tool) it prints the median, min-max, the ratio of the median to the
best peer's (curl, wget2, aria2c: every tool whose name does not start with "bitsd", in the
cases of that bench whose text before ";" is the same: "2000 one-file jobs; 8 threads" is
compared with aria2c's "2000 one-file jobs"), the
median CPU seconds and peak RSS, and for bitsd the redesign's target.
"""
import collections
import statistics
import sys

# The redesign's targets ("Engine and store redesign"), with today's peer figures.
TARGETS = {
    ("B1", "seconds"): "<= 0.9x curl's time; CPU <= 1.0x curl",
    ("B2", "files/s"): ">= 1.0x best peer (wget2 ~20-24k/s, curl -Z ~22.5k/s)",
    ("B3", "jobs/s"): ">= 1.0x aria2 multicall (~7.4k jobs/s)",
    ("B4", "calls/s"): ">= 30k/s with 1 client",
    ("B5", "ready_s"): "<= 1 s (100k jobs)",
    ("B5", "rss_mib"): "<= 100 MiB (100k jobs)",
    ("B5", "list_s"): "<= 1 s (100k jobs)",
}


def number(text):
    return None if text == "-" else float(text)


def fmt(value):
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3f}"


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    groups = collections.OrderedDict()
    for line in open(sys.argv[1]):
        if not line.strip() or line.startswith("#"):
            continue
        bench, case, tool, _run, metric, unit, better, value, cpu, rss = line.rstrip("\n").split("\t")
        key = (bench, case, metric, unit, better)
        groups.setdefault(key, collections.OrderedDict()).setdefault(tool, []).append(
            (float(value), number(cpu), number(rss)))

    print("| bench | case | tool | median | min-max | unit | vs best peer | CPU s | peak RSS MiB "
          "| runs | target |")
    print("|---|---|---|---:|---:|---|---:|---:|---:|---:|---|")
    def scope(case):
        return case.split(";")[0]

    peer_medians = collections.defaultdict(list)  # (bench, scope, metric) -> the peers' medians
    for (bench, case, metric, _unit, _better), tools in groups.items():
        for tool, rows in tools.items():
            if not tool.startswith("bitsd"):
                peer_medians[(bench, scope(case), metric)].append(median([v for v, _, _ in rows]))
    for (bench, case, metric, unit, better), tools in groups.items():
        medians = {tool: median([v for v, _, _ in rows]) for tool, rows in tools.items()}
        peers = peer_medians[(bench, scope(case), metric)]
        best = (min(peers) if better == "lower" else max(peers)) if peers else None
        # bitsd first, then the other engines (BASE_BUILD), then the peers.
        order = sorted(tools, key=lambda t: (t != "bitsd", not t.startswith("bitsd"), t))
        for tool in order:
            rows = tools[tool]
            values = [v for v, _, _ in rows]
            ratio = f"{medians[tool] / best:.2f}x" if best else "-"
            rss = median([r for _, _, r in rows])
            target = TARGETS.get((bench, unit), "") if tool == "bitsd" else ""
            if bench == "B4" and "; 1 client," not in case:
                target = ""
            print(f"| {bench} | {case} | {tool} | {fmt(medians[tool])} | "
                  f"{fmt(min(values))}-{fmt(max(values))} | {unit} "
                  f"({better} is better) | {ratio} | {fmt(median([c for _, c, _ in rows]))} | "
                  f"{fmt(rss / 1024 if rss is not None else None)} | {len(values)} | {target} |")


if __name__ == "__main__":
    main()
