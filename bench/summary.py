"""Turn bench/results/latest.json into bench/results/latest.md (one table: each figure, its
baseline from the same run, the ratio and the target) and PNG plots of latency against load.

    python bench/summary.py        # make bench runs it last
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    pg = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    return (
        f"{os.cpu_count()} cores ({model}), {memory:.1f} GiB, Python {platform.python_version()}, "
        f"{pg}; load generator, PostgreSQL and Redis on the same box"
    )


def ok(met: bool) -> str:
    return "met" if met else "**missed**"


def hello_rows(data: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    out: list[tuple[str, str, str, str, str]] = []
    if hellos := data.get("hellos"):
        r, b, f = hellos["returning"], hellos["bare"], hellos["full_path"]
        out.append(
            (
                "`hellos` returning visitors, cursor current, one process",
                f"{r['per_s']:,.0f} hellos/s (p50 {r['p50_ms']} ms; server CPU "
                f"{r['server_cpu_ms_per_cycle']} ms each); full path {f['per_s']:,.0f}/s",
                f"bare handshake {b['per_s']:,.0f}/s (server CPU {b['server_cpu_ms_per_cycle']} ms)",
                f"{hellos['ratio_to_bare']:.2f} (CPU {hellos['cpu_ratio_to_bare']:.2f})",
                f"≥ 0.4: {ok(hellos['ratio_to_bare'] >= 0.4)}",
            )
        )
    if storm := data.get("reconnect_storm"):
        r, b = storm["returning"], storm["bare"]
        out.append(
            (
                f"`reconnect_storm` {storm['sockets']:,} sockets cut and back with hello",
                f"all welcomed in {r['storm_s']} s (hello p50 {r.get('hello_p50_ms')} ms, p99 "
                f"{r.get('hello_p99_ms')} ms); {r['timed_out']} timed out, {r['failed']} failed",
                f"bare reconnect {b['storm_s']} s",
                f"{storm['time_ratio_to_bare']:.1f} (time)",
                f"none timed out: {ok(r['timed_out'] == 0 and r['failed'] == 0)}",
            )
        )
    return out


def idle_rows(idle: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """One row per WebSocket implementation and deflate setting measured (the production one
    alone in `make bench`)."""
    out = []
    for run in idle["runs"]:
        p, b, lib = run["product"], run["bare"], run["library"]
        out.append(
            (
                f"`idle_capacity` {idle['sockets']:,} sockets, ping every "
                f"{idle['ping_every_s']:.0f} s, deflate offered; `{run['options']}`",
                f"{p['still_open']:,} held; {p['kib_per_socket']} KiB/socket "
                f"(RSS {p['rss_held_mib']:.0f} MiB)",
                f"bare ASGI app on the same uvicorn {b['kib_per_socket']} KiB/socket "
                f"(websockets library alone {lib['kib_per_socket']})",
                f"{run['memory_ratio_to_baseline']}",
                f"≤ 1.5×: {ok(run['memory_ratio_to_baseline'] <= 1.5)}",
            )
        )
    return out


def rows(data: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    out: list[tuple[str, str, str, str, str]] = []
    if ingest := data.get("ingest"):
        for n, level in ingest["levels"].items():
            p, b = level["product"], level["bare"]
            out.append(
                (
                    f"`ingest` {n} conversations, saturated",
                    f"{p['saturated']['messages_per_s']:,.0f} msg/s (p50 {p['saturated']['p50_ms']} ms)",
                    f"bare group_send {b['saturated']['messages_per_s']:,.0f} msg/s",
                    f"{level['throughput_ratio']:.2f}",
                    f"≥ 0.5: {ok(level['throughput_ratio'] >= 0.5)}",
                )
            )
            for label, run in (("1 process", p), ("2 processes", level.get("product_2_processes"))):
                if run is None:
                    continue
                if label != "1 process":
                    out.append(
                        (
                            f"`ingest` {n} conversations, saturated, {label}",
                            f"{run['saturated']['messages_per_s']:,.0f} msg/s",
                            f"bare group_send {b['saturated']['messages_per_s']:,.0f} msg/s (1 process)",
                            f"{run['saturated']['messages_per_s'] / b['saturated']['messages_per_s']:.2f}",
                            "scale-out",
                        )
                    )
                paced = run["paced"]
                if paced.get("over_capacity"):
                    result, ratio, met = (
                        f"over capacity: {paced['offered_per_s']:.0f} msg/s offered",
                        "—",
                        False,
                    )
                else:
                    result = f"p50 {paced['p50_ms']} ms, p99 {paced['p99_ms']} ms"
                    ratio = f"{paced['p99_ms'] / b['paced']['p99_ms']:.1f} (p99)"
                    met = paced["p99_ms"] < 50
                out.append(
                    (
                        f"`ingest` {n} conversations, one message / 2 s each, {label}",
                        result,
                        f"bare p50 {b['paced']['p50_ms']} ms, p99 {b['paced']['p99_ms']} ms",
                        ratio,
                        f"p99 < 50 ms: {ok(met)}" if n == "200" else "—",
                    )
                )
    if flush := data.get("flush_on_login"):
        ms = flush["connect_to_last_message_ms"]["median"]
        q = flush["queries_by_messages"]
        out.append(
            (
                f"`flush_on_login` {flush['messages']:,} messages",
                f"{ms:.0f} ms; queries {' / '.join(str(v) for v in q.values())} at "
                f"{' / '.join(f'{int(k):,}' for k in q)} messages",
                f"raw SQL read {flush['baseline_raw_sql_read_ms']['median']:.0f} ms",
                f"{flush['ratio_to_baseline']}",
                f"< 0.5 s: {ok(ms < 500)}",
            )
        )
    if assign := data.get("assign_on_login"):
        ms = assign["all_connected_to_all_assigned_and_pushed_ms"]
        base = assign.get("baseline_logins_with_nothing_waiting_ms")
        out.append(
            (
                "`assign_on_login` 1,000 conversations, 10 agents at once",
                f"{ms['median']:.0f} ms median, {ms['max']:.0f} ms worst; each assigned once",
                f"the same logins, nothing waiting {base['median']:.0f} ms" if base else "—",
                f"{assign['ratio_to_baseline']}" if base else "—",
                f"< 0.3 s: {ok(ms['median'] < 300)}",
            )
        )
    if (idle := data.get("idle_capacity")) and "runs" in idle:  # older results had no runs
        out += idle_rows(idle)
    out += hello_rows(data)
    if scan := data.get("reminder_scan"):
        out.append(
            (
                f"`reminder_scan` over {scan['messages']:,} messages",
                f"steady tick {scan['steady_tick']['ms']} ms ({scan['steady_tick']['queries']} queries); "
                f"first tick {scan['first_tick']['ms']} ms",
                "—",
                "—",
                f"< 100 ms: {ok(scan['steady_tick']['ms'] < 100)} (steady); "
                f"first tick, {scan['first_tick']['notifications_made']} "
                f"notifications made: {ok(scan['first_tick']['ms'] < 100)}",
            )
        )
    if report := data.get("report"):
        heaviest = max(report["reports"].items(), key=lambda kv: kv[1]["ms"])
        out.append(
            (
                f"`report` over {report['messages']:,} messages (heaviest: {heaviest[0]})",
                ", ".join(f"{k} {v['ms']:.0f} ms" for k, v in report["reports"].items()),
                f"one SQL pass {report['baseline_ms']:.0f} ms",
                f"{heaviest[1]['ratio_to_baseline']}",
                f"< 1 s: {ok(heaviest[1]['ms'] < 1000)}",
            )
        )
    return out


def plot(data: dict[str, Any]) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made: list[Path] = []
    ingest = data.get("ingest")
    if not ingest:
        return made
    sizes = [int(n) for n in ingest["levels"]]
    fig, (lat, thr) = plt.subplots(1, 2, figsize=(11, 4.2))
    runs = (
        ("product", "-o", "helpdesk, 1 process", "C0"),
        ("product_2_processes", "-^", "helpdesk, 2 processes", "C1"),
        ("bare", "--s", "bare group_send", "C2"),
    )
    for kind, style, label, color in runs:
        levels = [ingest["levels"][str(n)].get(kind) for n in sizes]
        if any(run is None for run in levels):
            continue
        for q, alpha in (("p50_ms", 0.5), ("p99_ms", 1.0)):
            # An over-capacity level has no latency (it would only measure a growing queue).
            ys = [run["paced"].get(q, float("nan")) for run in levels]
            lat.plot(sizes, ys, style, color=color, alpha=alpha, label=f"{label} {q[:3]}")
        ys = [run["saturated"]["messages_per_s"] for run in levels]
        thr.plot(sizes, ys, style, color=color, label=label)
    lat.axhline(100, color="grey", linewidth=0.8, linestyle=":")
    lat.set(
        xlabel="concurrent conversations (one message / 2 s each)",
        ylabel="visitor → agent latency (ms)",
        title="Latency against load",
    )
    thr.set(
        xlabel="concurrent conversations (one message in flight each)",
        ylabel="messages / s",
        title="Saturated throughput",
    )
    for ax in (lat, thr):
        ax.set(xscale="log", yscale="log")
        ax.set_xticks(sizes, [str(n) for n in sizes])
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path = RESULTS / "ingest.png"
    fig.savefig(path, dpi=110)
    made.append(path)
    return made


def main() -> None:
    data = json.loads((RESULTS / "latest.json").read_text())
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {machine()}.",
        "",
        "| name | result | baseline (same run) | ratio | target |",
        "|---|---|---|---|---|",
        *(f"| {' | '.join(r)} |" for r in rows(data)),
        "",
    ]
    for path in plot(data):
        lines.append(f"![{path.stem}]({path.name})")
    (RESULTS / "latest.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
