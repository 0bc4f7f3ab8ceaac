"""``python -m bench``: time tapegrad and its peers on the benchmark workloads.

Only the standard library is imported before the options are read: the environment of the
benchmark (``OPENBLAS_CORETYPE``) must be settled before NumPy loads OpenBLAS.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from typing import Any

COLDSTART = "coldstart"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Time gradients in tapegrad and its peers (torch, jax, HIPS autograd, "
                    "micrograd, hand-written NumPy/numba) on the workloads of WORKLOADS.md.")
    p.add_argument("--only", metavar="NAME[,NAME]",
                   help="workloads (e.g. rosenbrock, coldstart) or cases (e.g. chain-1000)")
    p.add_argument("--frameworks", metavar="A,B", help="frameworks to time (default: all)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run of a few seconds: small sizes, tiny repeat counts")
    p.add_argument("--json", metavar="FILE", help="write every timing and the settings here")
    p.add_argument("--plot", metavar="FILE.png",
                   help="plot time against size for chain-K and rosenbrock-N (needs matplotlib)")
    p.add_argument("--list", action="store_true", help="list workloads, cases and frameworks")
    p.add_argument("--coldstart-case", default="all", choices=["all", "rosenbrock-10", "seed"],
                   help="the first gradient a cold-start process computes (default: both the "
                        "seed chain and rosenbrock-10; a --quick run takes rosenbrock-10 only)")
    p.add_argument("--pair", metavar="OLD_TREE",
                   help="time this checkout's tapegrad against the one in OLD_TREE (a checkout "
                        "or git worktree), in turns, and report new/old per case")
    p.add_argument("--rounds", type=int, default=16,
                   help="with --pair: sample pairs per case (default 16)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    removed_env = {}
    if not args.quick and "OPENBLAS_CORETYPE" in os.environ and "numpy" not in sys.modules:
        # a forced OpenBLAS core type slows NumPy's matmul ~1.6x here; benchmark runs go without
        # it (smoke runs in CI keep their environment untouched)
        removed_env["OPENBLAS_CORETYPE"] = os.environ.pop("OPENBLAS_CORETYPE")

    from . import coldstart, report, runner, sysinfo
    from .frameworks import FRAMEWORKS
    from .progress import Progress
    from .timing import Budget
    from .workloads import all_workloads

    workloads = all_workloads()
    if args.list:
        _print_list(workloads, FRAMEWORKS)
        return 0
    frameworks = _pick_frameworks(args.frameworks, FRAMEWORKS)
    cases, with_coldstart = _pick_cases(args.only, workloads, args.quick)
    if args.pair:
        from . import paired

        paired_frameworks = [f for f in frameworks if f in paired.PAIRED_FRAMEWORKS]
        rows = paired.run(args.pair, cases, paired_frameworks, args.rounds,
                          Budget.quick().sample if args.quick else Budget.normal().sample)
        if args.json:
            report.write_json(args.json, {"argv": sys.argv, "old_tree": args.pair,
                                          **{"versions": sysinfo.versions()}, "paired": rows})
        return 0
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        sys.exit("error: --plot needs matplotlib, which is not installed (pip install matplotlib)")

    load_before = sysinfo.load_average()
    started = time.time()
    plan = runner.Plan(cases, frameworks, Budget.quick() if args.quick else Budget.normal(),
                       args.quick)
    cold_cases = (list(coldstart.CASES) if args.coldstart_case == "all" and not args.quick
                  else [coldstart.DEFAULT_CASE if args.coldstart_case == "all"
                        else args.coldstart_case])
    cold_pairs = coldstart.plan(frameworks, cold_cases) if with_coldstart else []
    progress = Progress(len(cases) * len(frameworks) + len(cold_pairs))
    cells = runner.run(plan, progress)
    cold = coldstart.measure(cold_pairs, args.quick, progress)
    progress.close()
    plan.failures += [f"cold start of {r['framework']} ({r['case']}): {r['reason']}"
                      for r in cold if r["status"] != "ok"]

    print(report.table(cells))
    if (ratios := report.mlp_ratios(cells)) is not None:
        print(ratios)
    if cold:
        print()
        print(report.coldstart_table(cold))
    info = {"versions": sysinfo.versions(), "threads": sysinfo.threads(),
            "machine": sysinfo.machine(), "load_average_before": load_before,
            "load_average_after": sysinfo.load_average()}
    _warn_if_busy(load_before, info["machine"].get("usable_cpus"))
    if args.json:
        report.write_json(args.json, {
            "argv": sys.argv, "quick": args.quick, "started_unix": started,
            "duration_s": time.time() - started, "env_removed": removed_env,
            "check": {"reference": runner.REFERENCE, "rtol": runner.RTOL,
                      "atol_of_scale": runner.ATOL_OF_SCALE},
            **info, "results": [c.as_dict() for c in cells], "coldstart": cold,
            "failures": plan.failures})
    if args.plot:
        report.plot(cells, args.plot)
    if plan.failures:
        print(f"\nFAILED: {len(plan.failures)} problem(s):", file=sys.stderr)
        for f in plan.failures:
            print(f"  {f}", file=sys.stderr)
        return 1
    return 0


def _pick_frameworks(option: str | None, known: dict[str, Any]) -> list[str]:
    """The requested frameworks in registry order (tapegrad, the reference, first)."""
    if option is None:
        return list(known)
    wanted = {f.strip() for f in option.split(",") if f.strip()}
    if unknown := sorted(wanted - set(known)):
        sys.exit(f"error: unknown framework(s) {', '.join(unknown)}; "
                 f"known: {', '.join(known)}")
    return [f for f in known if f in wanted]


def _pick_cases(option: str | None, workloads: list[Any], quick: bool) -> tuple[list, bool]:
    """``([(workload, case), ...], whether to measure cold starts)`` for ``--only``.

    ``--quick`` keeps the small cases only, unless a case is asked for by its own name.
    """
    every = [(w, c) for w in workloads for c in w.cases]
    if option is None:
        return [(w, c) for w, c in every if c.quick or not quick], True
    wanted = {n.strip() for n in option.split(",") if n.strip()}
    names = {w.name for w in workloads} | {c.name for _, c in every} | {COLDSTART}
    if unknown := sorted(wanted - names):
        sys.exit(f"error: unknown workload or case {', '.join(unknown)}; "
                 f"known: {', '.join(sorted(names))}")
    cases = [(w, c) for w, c in every
             if c.name in wanted or (w.name in wanted and (c.quick or not quick))]
    return cases, COLDSTART in wanted


def _print_list(workloads: list[Any], frameworks: dict[str, Any]) -> None:
    print("workloads and their cases (* = in --quick):")
    for w in workloads:
        cases = " ".join(c.name + ("*" if c.quick else "") for c in w.cases)
        print(f"  {w.name:<14}{cases}")
    print(f"  {COLDSTART:<14}fresh-process import + first gradient of the seed chain and "
          "rosenbrock-10, warm and empty caches")
    print("frameworks:")
    for f in frameworks.values():
        why = f.unavailable_reason()
        print(f"  {f.name:<19}{f.description}{'' if why is None else f'  [n/a: {why}]'}")


def _warn_if_busy(load: list[float] | None, cpus: int | None) -> None:
    if load and cpus and load[0] > 0.5:
        print(f"\nnote: load average {load[0]:.2f} on {cpus} CPUs when the run started: other "
              "processes may have skewed these timings", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
