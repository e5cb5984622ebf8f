"""CPU the kernel's own threads (kthreadd's children: kdamond, kswapd, kworkers, ksoftirqd…) took between a snapshot
and now: a neighbour that the idle CPU before a round does not show. This machine's DAMON page reclaim (kdamond.0, a
paddr "pageout" scheme) runs twice a second and, in a kernel without preemption, holds a CPU for 1–16 ms at a time.
    python3 bench/kernel-cpu.py snapshot FILE
    python3 bench/kernel-cpu.py since FILE    # e.g. "kernel threads 156 ms (kdamond.0 150 ms in 40 runs)"
"""
import json
import os
import sys


def kernel_threads():
    """{pid: [name, run time in ns, runs]} for every child of kthreadd (pid 2)."""
    threads = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{pid}/stat").read()
            name, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
            if rest[1] != "2":
                continue
            ran, _, runs = open(f"/proc/{pid}/schedstat").read().split()
            threads[pid] = [name, int(ran), int(runs)]
        except (OSError, ValueError):
            continue  # exited while read
    return threads


command, path = sys.argv[1:3]
if command == "snapshot":
    json.dump(kernel_threads(), open(path, "w"))
    sys.exit(0)
before = json.load(open(path))
spent = {}
for pid, (name, ran, runs) in kernel_threads().items():
    _, ran_before, runs_before = before.get(pid, [name, 0, 0])
    spent[name] = (ran - ran_before, runs - runs_before)
total = sum(ran for ran, _ in spent.values()) / 1e6
top, (ran, runs) = max(spent.items(), key=lambda item: item[1][0])
print(f"kernel threads {total:.0f} ms ({top} {ran / 1e6:.0f} ms in {runs} runs)")
