#!/usr/bin/python3
"""The verdict of bench/soak.sh: memory and fds of every process over the run,
and what the load saw.

    /usr/bin/python3 bench/soak_report.py --samples samples.tsv --load summary.json
        [--server-log server.log] [--warmup 0.2] [--exit-code N] [--png soak.png]

samples.tsv: one line per process per sample, "t_s role pid vmrss_kb
anon_kb file_kb shmem_kb fds" (bench/soak.sh writes it from /proc).

Judged after the warm-up (the first --warmup of the run), per process:
  - memory: the private RSS (VmRSS - RssShmem: heap, stacks, mapped code;
    the shared segment's pages are left out: they are touched as the cache
    fills, up to its fixed size, whichever process touches them) at the
    end (median of the last samples) against the start (median of the first
    ones): growth beyond noise, more than 4 MiB or more than 10 %, fails;
  - fds: the fewest open in the last samples against the fewest in the
    first ones (the fewest: calls in flight come and go): more than 4 fails;
  - a process replaced during the run (a crash: the soak runs without
    recycling) fails.
And the load: any unexplained outcome fails, as does a server that did not
exit 0 on SIGTERM, or a line of its log (warning level and above) that the
run does not explain: one upstream_failed and one flow_failed per injected
upstream error are expected, and the start-up advice trusted_hosts_not_set;
anything else (a worker_timeout, a repaired lock, a process that exited)
fails. Prints the figures, a text sparkline per process (and
writes a PNG with --png, when matplotlib is installed); exits 1 on a failure.
"""

import argparse
import collections
import json
import statistics
import sys
import textwrap

BARS = "▁▂▃▄▅▆▇█"
GROWTH_LIMIT_KB = 4 * 1024
GROWTH_LIMIT_FRACTION = 0.10
FD_LIMIT = 4
WIDTH = 60


def read_samples(path):
    """role -> [(t, pid, vmrss, anon, file, shmem, fds)], in time order."""
    by_role = collections.defaultdict(list)
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 8 or parts[0] == "t_s":
                continue
            t, role, pid, *numbers = parts
            by_role[role].append((float(t), int(pid), *map(int, numbers)))
    return by_role


def window(n):
    return max(3, n // 10)


def slope_per_min(ts, ys):
    """Least-squares slope, units of y per minute."""
    if len(ts) < 2:
        return 0.0
    mt, my = statistics.fmean(ts), statistics.fmean(ys)
    var = sum((t - mt) ** 2 for t in ts)
    return 0.0 if var == 0 else sum((t - mt) * (y - my) for t, y in zip(ts, ys)) / var * 60


def sparkline(values, floor_range, cut=0):
    """WIDTH bucket means, '|' before the bucket holding values[cut]; the scale spans at least
    floor_range, so noise stays small."""
    if not values:
        return ""
    n = min(WIDTH, len(values))
    buckets = [values[i * len(values) // n:(i + 1) * len(values) // n] for i in range(n)]
    means = [statistics.fmean(b) for b in buckets]
    lo, hi = min(means), max(means)
    span = max(hi - lo, floor_range, 1e-9)
    bars = [BARS[min(len(BARS) - 1, int((m - lo) / span * (len(BARS) - 1) + 0.5))] for m in means]
    at = cut * n // len(values)
    return "".join(bars[:at]) + ("|" if 0 < at < n else "") + "".join(bars[at:])


def judge(role, rows, t_warm):
    """The figures of one process, and what is wrong with them."""
    after = [r for r in rows if r[0] >= t_warm] or rows
    k = window(len(after))
    private = [r[2] - r[5] for r in after]
    start, end = statistics.median(private[:k]), statistics.median(private[-k:])
    fds_start, fds_end = min(r[6] for r in after[:k]), min(r[6] for r in after[-k:])
    fig = {
        "role": role, "pids": sorted({r[1] for r in rows}),
        "rss": (statistics.median(r[2] for r in after[:k]), statistics.median(r[2] for r in after[-k:]),
                max(r[2] for r in rows)),
        "private": (start, end, max(private)), "growth": end - start,
        "slope": slope_per_min([r[0] for r in after], private),
        "fds": (fds_start, fds_end, max(r[6] for r in rows)),
        "problems": [],
    }
    limit = min(GROWTH_LIMIT_KB, start * GROWTH_LIMIT_FRACTION)  # beyond either is beyond noise
    if fig["growth"] > limit:
        fig["problems"].append(f"private RSS grew {fig['growth'] / 1024:.2f} MiB after the warm-up "
                               f"(limit: 4 MiB or 10 % of {start / 1024:.1f} MiB)")
    if fds_end - fds_start > FD_LIMIT:
        fig["problems"].append(f"open fds grew from {fds_start} to {fds_end}")
    if len(fig["pids"]) > 1:
        fig["problems"].append(f"replaced during the run: pids {fig['pids']}")
    return fig


def mb(kb):
    return f"{kb / 1024:.1f}"


def print_processes(by_role, t_warm, interval):
    print(f"== processes: sampled every {interval:.0f} s; the warm-up (up to {t_warm:.0f} s) is shown, not judged")
    print(f"{'process':<11} {'pid':>7}  {'VmRSS MB start→end (max)':<26} {'private MB start→end (max)':<28} "
          f"{'growth MB':>9} {'slope KB/min':>12}  {'fds start→end (max)':<20} verdict")
    figs = []
    for role in sorted(by_role, key=lambda r: (r != "supervisor", r != "grpcd", r)):
        f = judge(role, by_role[role], t_warm)
        figs.append(f)
        rss, pr, fd = f["rss"], f["private"], f["fds"]
        print(f"{role:<11} {f['pids'][-1]:>7}  {mb(rss[0]) + ' → ' + mb(rss[1]) + ' (' + mb(rss[2]) + ')':<26} "
              f"{mb(pr[0]) + ' → ' + mb(pr[1]) + ' (' + mb(pr[2]) + ')':<28} {f['growth'] / 1024:>+9.2f} "
              f"{f['slope']:>+12.1f}  {f'{fd[0]} → {fd[1]} ({fd[2]})':<20} "
              f"{'FAIL' if f['problems'] else 'ok'}")
    print()
    print("sparklines, the whole run ('|' after the warm-up; each spans at least 1 MB / 4 fds, so noise stays low):")
    for role in [f["role"] for f in figs]:
        rows = by_role[role]
        cut = sum(1 for r in rows if r[0] < t_warm)
        for label, values, floor, unit in (("private", [r[2] - r[5] for r in rows], 1024, "MB"),
                                           ("VmRSS", [r[2] for r in rows], 1024, "MB"),
                                           ("fds", [r[6] for r in rows], 4, "")):
            lo, hi = min(values), max(values)
            span = f"{mb(lo)}–{mb(hi)} MB" if unit else f"{lo}–{hi}"
            print(f"  {role if label == 'private' else '':<11} {label:<8} {sparkline(values, floor, cut)}  {span}")
    return figs


def print_load(load):
    print(f"== load: {load['calls']} calls in {load['seconds']:.0f} s ({load['rate']}/s) over {load['kinds']} kinds: "
          f"{load['ok']} ok, {load['expected']} expected errors, {load['unexplained']} unexplained "
          f"({load['injected']} upstream errors injected)")
    for what, n in sorted(load["expected_by_kind"].items()):
        print(f"   expected    {n:>6}  {what}")
    for what, n in sorted(load["unexplained_by_kind"].items()):
        print(f"   UNEXPLAINED {n:>6}  {what}   e.g. {load['unexplained_examples'].get(what, '')}")
    kinds = load["by_kind"]
    listed = ", ".join(f"{k} {kinds[k].get('ok', 0)}/{kinds[k].get('expected', 0)}/{kinds[k].get('unexplained', 0)}"
                       for k in sorted(kinds))
    print(textwrap.fill(listed, width=118, initial_indent="   by kind (ok/expected/unexplained): ",
                        subsequent_indent="      ", break_on_hyphens=False))


def server_log_problems(path, injected):
    """Lines of the server's log (warning and above) the run does not explain."""
    events = collections.Counter()
    with open(path, errors="replace") as f:
        for line in f:
            try:
                doc = json.loads(line)
            except ValueError:
                events["(not a JSON line)"] += 1
                continue
            if doc.get("level") in ("warning", "error", "critical"):
                events[doc.get("event", "?")] += 1
    expected = {"trusted_hosts_not_set": 1, "upstream_failed": injected, "flow_failed": injected}
    print("== server log, warning and above: " +
          (", ".join(f"{e} {n}" for e, n in events.most_common()) or "nothing"))
    return [f"server log: {n - expected.get(e, 0)} unexplained {e}" for e, n in sorted(events.items())
            if n > expected.get(e, 0)]


def write_png(path, by_role, t_warm):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(no PNG: matplotlib is not installed)")
        return
    fig, axes = plt.subplots(3, 1, figsize=(10, 9), sharex=True)
    for role, rows in sorted(by_role.items()):
        ts = [r[0] / 60 for r in rows]
        axes[0].plot(ts, [(r[2] - r[5]) / 1024 for r in rows], label=role)
        axes[1].plot(ts, [r[2] / 1024 for r in rows], label=role)
        axes[2].plot(ts, [r[6] for r in rows], label=role)
    for ax, title in zip(axes, ("private RSS (MB)", "VmRSS (MB)", "open fds")):
        ax.set_title(title)
        ax.axvline(t_warm / 60, color="grey", linestyle="--")
        ax.grid(True, alpha=0.3)
    axes[0].legend(loc="upper left", fontsize="small")
    axes[2].set_xlabel("minutes (dashed: end of the warm-up)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print(f"plot: {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", required=True)
    ap.add_argument("--load", required=True)
    ap.add_argument("--warmup", type=float, default=0.2, help="fraction of the run not judged")
    ap.add_argument("--exit-code", type=int, default=0, help="the server's exit code after SIGTERM")
    ap.add_argument("--server-log", help="the server's JSON log (LOG_LEVEL=warning)")
    ap.add_argument("--png")
    args = ap.parse_args()

    by_role = read_samples(args.samples)
    with open(args.load) as f:
        load = json.load(f)
    if not by_role:
        print("no samples")
        return 1
    t_end = max(r[0] for rows in by_role.values() for r in rows)
    t_warm = t_end * args.warmup
    any_rows = next(iter(by_role.values()))
    interval = (any_rows[-1][0] - any_rows[0][0]) / max(1, len(any_rows) - 1)

    figs = print_processes(by_role, t_warm, interval)
    print()
    print_load(load)
    problems = [f"{f['role']}: {p}" for f in figs for p in f["problems"]]
    if args.server_log:
        print()
        problems += server_log_problems(args.server_log, load["injected"])
    if args.png:
        write_png(args.png, by_role, t_warm)

    if load["unexplained"]:
        problems.append(f"{load['unexplained']} unexplained outcomes")
    if args.exit_code != 0:
        problems.append(f"the server exited {args.exit_code} after SIGTERM")
    print()
    print("== verdict: " + ("PASS: no growth beyond noise after the warm-up, no unexplained error"
                            if not problems else "FAIL"))
    for p in problems:
        print(f"   {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
