"""The printed table, the JSON file and the plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .runner import Cell

BASELINE = "torch"
PLOTTED = {"chain": "K (elements)", "rosenbrock": "N (elements)"}  # workloads sweeping a size


def human(seconds: float | None) -> str:
    """``1.23 µs``, ``45.6 ms``, ``2.1 s``: three significant digits in a fitting unit."""
    if seconds is None:
        return "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def table(cells: list[Cell]) -> str:
    """Medians, min and max per call, the ratio to torch's median, and the first call."""
    base = {c.case: c.timing.median for c in cells if c.framework == BASELINE and c.timing}
    head = (f"{'case':<18}{'framework':<19}{'median':>10}{'min':>10}{'max':>10}"
            f"{'x torch':>9}{'first call':>12}")
    lines = [head, "-" * len(head)]
    previous = None
    for c in cells:
        case = c.case if c.case != previous else ""
        if c.case != previous and previous is not None:
            lines.append("")
        previous = c.case
        if c.timing is None:
            lines.append(f"{case:<18}{c.framework:<19}{c.status:>10}   {c.reason}")
            continue
        t = c.timing
        ratio = f"{t.median / base[c.case]:.2f}" if c.case in base else "—"
        lines.append(f"{case:<18}{c.framework:<19}{human(t.median):>10}{human(t.min):>10}"
                     f"{human(t.max):>10}{ratio:>9}{human(t.first):>12}")
    lines.append("")
    lines.append("x torch: median / torch's median (< 1 means faster than torch); "
                 "first call: includes compilation and cache loading")
    return "\n".join(lines)


def mlp_ratios(cells: list[Cell]) -> str | None:
    """One line: each framework's (forward + backward) / forward time on the mlp."""
    fwd = {c.framework: c.timing.median for c in cells if c.case == "mlp-fwd" and c.timing}
    both = {c.framework: c.timing.median for c in cells if c.case == "mlp-fwd+bwd" and c.timing}
    parts = [f"{f} {both[f] / fwd[f]:.2f}" for f in both if f in fwd]
    return "mlp (fwd+bwd)/fwd: " + ", ".join(parts) if parts else None


def coldstart_table(records: list[dict[str, Any]]) -> str:
    """Import and first-gradient times of fresh processes, warm and empty caches, per case."""
    head = (f"{'case':<15}{'framework':<19}{'import':>10}{'1st grad warm':>15}"
            f"{'process warm':>14}{'1st grad cold':>15}{'process cold':>14}")
    lines = ["cold start: a fresh process importing the framework and computing its first gradient",
             "(warm: caches populated; cold: empty NUMBA_CACHE_DIR and TAPEGRAD_CACHE_DIR; "
             "medians of runs; process: wall time incl. interpreter start)", head, "-" * len(head)]
    for rec in records:
        case = rec.get("case", "rosenbrock-10")
        if rec["status"] != "ok":
            lines.append(f"{case:<15}{rec['framework']:<19}{'error':>10}   "
                         f"{rec['reason'].splitlines()[0]}")
            continue
        warm, cold = rec["warm_cache"], rec.get("cold_cache", {})
        lines.append(f"{case:<15}{rec['framework']:<19}{human(warm['import_s']):>10}"
                     f"{human(warm['first_grad_s']):>15}{human(warm['wall_s']):>14}"
                     f"{human(cold.get('first_grad_s')):>15}{human(cold.get('wall_s')):>14}")
    return "\n".join(lines)


def write_json(path: str, data: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")


def plot(cells: list[Cell], path: str) -> None:
    """Median time against size for chain-K and rosenbrock-N, one line per framework."""
    import matplotlib  # lazily: only --plot needs it (checked before the run starts)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(PLOTTED), figsize=(6 * len(PLOTTED), 4.5))
    for ax, (workload, xlabel) in zip(axes, PLOTTED.items(), strict=True):
        series: dict[str, list[tuple[int, float]]] = {}
        for c in cells:
            if c.workload == workload and c.timing is not None and c.size is not None:
                series.setdefault(c.framework, []).append((c.size, c.timing.median))
        for framework, points in series.items():
            xs, ys = zip(*sorted(points), strict=True)
            ax.plot(xs, ys, marker="o", label=framework)
        ax.set(xscale="log", yscale="log", title=f"{workload}-{xlabel[0]}", xlabel=xlabel,
               ylabel="median seconds per gradient")
        ax.grid(True, which="both", alpha=0.3)
        if series:
            ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
