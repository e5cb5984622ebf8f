"""Reads a sched_switch/sched_wakeup trace with bench/trace-poller.py's markers and, for the slowest scrapes, says
where each one's time went: who had each CPU while it was in flight (the engine loop, the worker's other threads,
the load generator, the scraper, anything else by its name, e.g. the kernel's kdamond.0), and how long the scraper,
woken, waited for a CPU.
    python3 bench/scrape-trace.py TRACE WORKER_THREADS SERVE_TIDS SCRAPER_PID [SLOWEST]
"""
import re
import sys
from collections import defaultdict

trace, worker_threads, serve_tids, scraper_pid = sys.argv[1:5]
slowest = int(sys.argv[5]) if len(sys.argv) > 5 else 5
# "tid name" lines: the worker's threads by what they do (the engine loop, the thread pool, the socket engine, …).
worker = {tid: name.strip() for tid, name in (line.split(" ", 1) for line in open(worker_threads).read().splitlines())}
serve = set(open(serve_tids).read().split())


def role(tid):
    if worker.get(tid) == "engine-loop":
        return "engine loop"
    if tid in worker:
        return f"worker {worker[tid]}"
    if tid in serve:
        return "load generator"
    if tid == scraper_pid:
        return "scraper"
    return "idle" if tid == "0" else names.get(tid, "other")


line_re = re.compile(r"\[(\d+)\]\s+\S+\s+([\d.]+):\s+(\S+):\s*(.*)")
switch_re = re.compile(r"prev_comm=(.*) prev_pid=(\d+) .* next_comm=(.*) next_pid=(\d+)")
events, names = [], {}  # names: tid -> its name as the scheduler saw it, for threads not the worker's
for line in open(trace):
    if match := line_re.search(line):
        events.append((float(match[2]) * 1000, int(match[1]), match[3], match[4]))
        if match[3] == "sched_switch" and (switch := switch_re.search(match[4])):
            names[switch[2]], names[switch[4]] = switch[1], switch[3]
cpus = {cpu for _, cpu, _, _ in events}
scrapes = {}
for index, (_, _, kind, text) in enumerate(events):
    if kind == "tracing_mark_write" and (match := re.match(r"SCRAPE (\d+) (start|end)(?: ([\d.]+))?", text)):
        scrapes.setdefault(int(match[1]), {})[match[2]] = (index, float(match[3] or 0))
for number, marks in sorted(((n, m) for n, m in scrapes.items() if "end" in m), key=lambda item: -item[1]["end"][1])[:slowest]:
    first, last = marks["start"][0], marks["end"][0]
    running = {}  # cpu -> the tid running on it
    # Who ran on each CPU before the window opened: the last switch on that CPU before it.
    for t, cpu, kind, text in reversed(events[:first]):
        if kind == "sched_switch" and cpu not in running:
            running[cpu] = re.search(r"next_pid=(\d+)", text)[1]
        if len(running) == len(cpus):
            break
    share, since = defaultdict(float), {cpu: events[first][0] for cpu in running}
    woken, waited = None, 0.0
    for t, cpu, kind, text in events[first:last + 1]:
        if kind == "sched_switch":
            share[role(running.get(cpu, "0"))] += t - since.get(cpu, events[first][0])
            running[cpu], since[cpu] = re.search(r"next_pid=(\d+)", text)[1], t
            if running[cpu] == scraper_pid and woken is not None:
                waited, woken = waited + t - woken, None
        elif kind.startswith("sched_wakeup") and f" pid={scraper_pid} " in text:
            woken = t
    end = events[last][0]
    for cpu, start in since.items():
        share[role(running[cpu])] += end - start
    print(f"scrape {number}: {marks['end'][1]:.2f} ms; the scraper waited {waited:.2f} ms for a CPU once woken; CPU time in the window: "
          + ", ".join(f"{name} {ms:.2f} ms" for name, ms in sorted(share.items(), key=lambda item: -item[1])))
