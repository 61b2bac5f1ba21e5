"""The demo's output: text (or markdown) tables and the plot."""

LABELS = {"select": "netpoll select", "poll": "netpoll poll", "epoll": "netpoll epoll",
          "kqueue": "netpoll kqueue", "threads": "threads (stdlib)"}


def label(name):
    return LABELS.get(name, name)


def _si(x):
    if x >= 10_000:
        return f"{x / 1000:.1f}k"
    return f"{x:.0f}"


NOT_RUN = {"skip": "-"}     # a point not measured (the demo was interrupted)


def _cell(point, key, fmt):
    if "skip" in point:
        return point["skip"]
    if "error" in point:
        return "failed"
    value = point.get(key)
    return "?" if value is None else fmt(value)


def memory_per_idle(points):
    """KiB per idle connection at the largest idle count that ran."""
    for n in sorted(points, reverse=True):
        value = points[n].get("kib_per_idle")
        if n and value is not None:
            return f"{value:.1f} (N={n})"
    return "–"


def tables(results, idle, markdown=False):
    """Two tables: round trips/s and server CPU µs per round trip."""
    head = [f"N={n}" for n in idle]
    rt = [["round trips/s", *head, "KiB/idle conn"]]
    cpu = [["server CPU µs/round trip", *head]]
    for name, points in results.items():
        cells = [points.get(n, NOT_RUN) for n in idle]
        rt.append([label(name), *(_cell(p, "rt_per_s", _si) for p in cells),
                   memory_per_idle(points)])
        cpu.append([label(name), *(_cell(p, "server_us_per_rt", lambda v: f"{v:.1f}")
                                   for p in cells)])
    render = _markdown if markdown else _text
    return render(rt) + "\n\n" + render(cpu)


def _text(rows):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _markdown(rows):
    lines = ["| " + " | ".join(rows[0]) + " |",
             "|---" + "|---:" * (len(rows[0]) - 1) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines)


def errors(results):
    """``(server, N, message)`` for every failed point."""
    return [(name, n, p["error"]) for name, points in results.items()
            for n, p in points.items() if "error" in p]


def plot(results, idle, active, path):
    """Write the plot: round trips/s and server CPU per round trip against
    idle connections, one line per server."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_rt, ax_cpu) = plt.subplots(1, 2, figsize=(11, 4.5))
    styles = {"select": "o-", "poll": "s-", "epoll": "^-", "kqueue": "^-", "threads": "x--"}
    for name, points in results.items():
        ok = [n for n in idle if "rt_per_s" in points[n]]
        if not ok:
            continue
        style = styles.get(name, "o-")
        color = "grey" if name == "threads" else None
        line, = ax_rt.plot(ok, [points[n]["rt_per_s"] for n in ok], style,
                           color=color, label=label(name))
        cpu_ok = [n for n in ok if "server_us_per_rt" in points[n]]
        ax_cpu.plot(cpu_ok, [points[n]["server_us_per_rt"] for n in cpu_ok], style,
                    color=line.get_color(), label=label(name))
        if name == "select" and any("skip" in points[n] for n in idle):
            last = ok[-1]
            ax_rt.annotate("select: no fd ≥ FD_SETSIZE (1024)",
                           (last, points[last]["rt_per_s"]), textcoords="offset points",
                           xytext=(8, -14), fontsize=8, color=line.get_color())
    ax_rt.set_title(f"{active} active connections: round trips/s")
    ax_rt.set_ylabel("round trips/s (higher is better)")
    ax_cpu.set_title("server CPU time per round trip")
    ax_cpu.set_ylabel("µs (lower is better)")
    for ax in (ax_rt, ax_cpu):
        ax.set_xlabel("idle connections")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
