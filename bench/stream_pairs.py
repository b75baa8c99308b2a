"""Paired, interleaved runs of two shell commands: wall time, CPU time of
every process of the run (user + sys, from wait4) and the peak memory of
its largest process; optionally with CPU-bound processes beside them.

    python3 bench/stream_pairs.py RUNS BUSY FRAMES NAME_A CMD_A NAME_B CMD_B

Prints each command's medians and the ratios B/A (throughput, CPU, memory),
then the same ratios pair by pair (each B run against the A run beside it):
their median and middle half, which shows how far one run of the script
can be trusted (beside CPU-bound processes the scheduler swings single
runs by half).
"""
import os
import statistics
import subprocess
import sys
import time


def run(command):
    started = time.perf_counter()
    child = subprocess.Popen(["bash", "-o", "pipefail", "-c", command])
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        sys.exit(f"failed ({status}): {command}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def main():
    runs, busy, frames = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    names, commands = sys.argv[4::2], sys.argv[5::2]
    neighbours = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)
    ]
    try:
        results = {name: [] for name in names}
        for command in commands:
            run(command)  # warm-up
        for i in range(runs):
            order = list(zip(names, commands))
            if i % 2:
                order.reverse()
            for name, command in order:
                results[name].append(run(command))
    finally:
        for n in neighbours:
            n.kill()
    medians = {}
    for name in names:
        walls, cpus, rss = zip(*results[name])
        medians[name] = (
            frames / statistics.median(walls),
            statistics.median(cpus),
            max(rss),
        )
        fps, cpu, peak = medians[name]
        print(f"  {name:<14} {fps:7.1f} fps  CPU {cpu:6.2f} s  peak {peak / 1024:6.1f} MiB")
    (a, b) = names
    print(
        f"  {b} / {a}: throughput {medians[b][0] / medians[a][0]:.2f}, "
        f"CPU {medians[b][1] / medians[a][1]:.2f}, peak memory {medians[b][2] / medians[a][2]:.2f}"
    )
    pairs = list(zip(results[a], results[b]))
    throughput = [ra[0] / rb[0] for ra, rb in pairs]
    cpu = [rb[1] / ra[1] for ra, rb in pairs]
    print(f"  pair by pair: throughput {spread(throughput)}, CPU {spread(cpu)}")


def spread(ratios):
    """The median and the middle half of `ratios`."""
    low, middle, high = statistics.quantiles(ratios, n=4)
    return f"{middle:.2f} ({low:.2f}–{high:.2f})"


main()
