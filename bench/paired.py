"""``python -m bench --pair OLD_TREE``: this checkout's tapegrad against another's, case by case.

A change is judged by the ratio new/old on every workload, and a shared machine's speed drifts by
more than the few percent at stake.  So each side runs in a worker process of its own (the two
``tapegrad`` packages cannot share one process), both set up the same case from *this*
checkout's workloads, and the parent asks them for one sample at a time, in turns, alternating
which goes first.  A round's ratio is new/old of the two samples taken back to back; the figure
reported is the median over the rounds, with the spread of the middle half.

The workers talk over their stdin/stdout, one JSON line a message.
"""

from __future__ import annotations

import importlib
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
#: the frameworks whose code differs between the two trees
PAIRED_FRAMEWORKS = ("tapegrad", "tapegrad-compiled")


class _Worker:
    """A process running one tree's tapegrad under this checkout's workloads."""

    def __init__(self, tree: Path) -> None:
        self.tree = tree
        # (run as a script, not with -m: the current folder must not come before ``tree``)
        self.proc = subprocess.Popen(
            [sys.executable, str(_HERE / "paired.py"), "--worker", str(tree)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, **message: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the worker for {self.tree} ended")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"{self.tree}: {answer['error']}")
        return answer

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


def run(old_tree: str, cases: list, frameworks: list[str], rounds: int,
        sample_seconds: float) -> list[dict[str, Any]]:
    """The paired figures of every (case, framework) both trees can run."""
    old, new = _Worker(Path(old_tree).resolve()), _Worker(_HERE.parent)
    rows = []
    try:
        for workload, case in cases:
            for fw in frameworks:
                if fw not in workload.setups:
                    continue
                spec = {"workload": workload.name, "case": case.name, "framework": fw}
                try:
                    first = [old.ask(cmd="setup", sample=sample_seconds, **spec)]
                except RuntimeError as e:  # (a workload of what the old tree lacks)
                    print(f"{case.name:<22}{fw:<19}not paired: the old tree cannot run it "
                          f"({str(e).splitlines()[0][-80:]})", flush=True)
                    continue
                first.append(new.ask(cmd="setup", sample=sample_seconds, **spec))
                number = min(a["number"] for a in first)  # the same batch on both sides
                ratios, olds, news = [], [], []
                for r in range(rounds):
                    pair = (old, new) if r % 2 == 0 else (new, old)
                    got = {id(w): w.ask(cmd="sample", number=number)["seconds"] for w in pair}
                    olds.append(got[id(old)])
                    news.append(got[id(new)])
                    ratios.append(got[id(new)] / got[id(old)])
                q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
                rows.append({**spec, "old_s": statistics.median(olds),
                             "new_s": statistics.median(news),
                             "ratio": statistics.median(ratios), "q1": q[0], "q3": q[-1],
                             "rounds": rounds, "calls_per_sample": number})
                print(_row(rows[-1]), flush=True)
    finally:
        old.close()
        new.close()
    return rows


def _row(r: dict[str, Any]) -> str:
    return (f"{r['case']:<22}{r['framework']:<19}old {_t(r['old_s']):>9}  new {_t(r['new_s']):>9}"
            f"  new/old {r['ratio']:.3f}  (middle half {r['q1']:.3f}-{r['q3']:.3f})")


def _t(s: float) -> str:
    return f"{s * 1e6:.1f} us" if s < 1e-3 else f"{s * 1e3:.2f} ms"


def _worker(tree: str) -> None:
    """Serve setup/sample requests for one tree's tapegrad."""
    from time import perf_counter

    sys.path[:1] = [tree]  # (instead of this script's folder)
    import tapegrad

    if not Path(tapegrad.__file__).resolve().is_relative_to(Path(tree).resolve()):
        print(json.dumps({"error": f"tapegrad imported from {tapegrad.__file__}, not {tree}"}),
              flush=True)
        return
    # this checkout's workloads, whichever tree is timed (the package is "bench" in a checkout,
    # "tapegrad_bench" once installed)
    sys.path.insert(0, str(_HERE.parent))
    all_workloads = importlib.import_module(f"{_HERE.name}.workloads").all_workloads

    workloads = {w.name: w for w in all_workloads()}
    call = None
    for line in sys.stdin:
        msg = json.loads(line)
        try:
            if msg["cmd"] == "setup":
                case = next(c for c in workloads[msg["workload"]].cases
                            if c.name == msg["case"])
                call = None
                call = workloads[msg["workload"]].setups[msg["framework"]](**case.params)
                t0 = perf_counter()
                call()  # (compiles, caches)
                end = perf_counter() + 0.2
                n = 0
                t0 = perf_counter()
                while perf_counter() < end or n < 3:
                    call()
                    n += 1
                per_call = (perf_counter() - t0) / n
                answer = {"number": max(1, int(msg["sample"] / per_call))}
            else:
                t0 = perf_counter()
                for _ in range(msg["number"]):
                    call()
                answer = {"seconds": (perf_counter() - t0) / msg["number"]}
        except Exception as exc:
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    _worker(sys.argv[2])
