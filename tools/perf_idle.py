#!/usr/bin/env python3
"""Where the thread pool idles: a timeline of one process's threads from `perf script`.

The CPU iteration runs its kernels on rayon's two workers while the calling thread waits; any
op that runs on the calling thread alone leaves the workers idle. This script bins perf
samples by millisecond and reports how long both workers were busy, how long one or both
were idle, and what was running meanwhile (docs/performance.md, "The pool idling while the
calling thread worked").

    perf record -F 3999 -o perf.data target/release/examples/bench_fineface \
        --case iteration --iters 1 --warmup 1
    perf script -i perf.data -F tid,time,ip,sym > samples.txt
    python3 tools/perf_idle.py samples.txt --last 11.5

`--last` keeps the final seconds (the timed iteration; model set-up and the warm-up come
first). The calling thread is the process's lowest thread id; every other thread is a worker.
"""

import argparse
import collections


def read_samples(path):
    """(time, tid, symbol) of every sample."""
    samples = []
    with open(path) as lines:
        for line in lines:
            fields = line.split()
            if len(fields) < 2 or not fields[1].endswith(":"):
                continue
            symbol = fields[3] if len(fields) > 3 else "?"
            samples.append((float(fields[1].rstrip(":")), int(fields[0]), symbol))
    samples.sort()
    return samples


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("samples", help="output of perf script -F tid,time,ip,sym")
    parser.add_argument("--last", type=float, required=True, help="seconds at the end to keep")
    parser.add_argument("--bin-ms", type=float, default=1.0, help="bin width in milliseconds")
    parser.add_argument(
        "--busy", type=int, default=2, help="samples in a bin for a thread to count as busy"
    )
    args = parser.parse_args()

    samples = read_samples(args.samples)
    caller = min(tid for _, tid, _ in samples)
    workers = sorted({tid for _, tid, _ in samples} - {caller})
    end = samples[-1][0]
    start = end - args.last
    width = args.bin_ms / 1000.0
    bins = collections.defaultdict(lambda: collections.defaultdict(list))
    for time, tid, symbol in samples:
        if time >= start:
            bins[int((time - start) / width)][tid].append(symbol)

    count = int(args.last / width)
    both_busy = 0
    idle_both = collections.Counter()
    idle_one = collections.Counter()
    for i in range(count):
        threads = bins.get(i, {})
        busy = [len(threads.get(w, [])) >= args.busy for w in workers]
        if all(busy):
            both_busy += 1
        elif any(busy):
            running = [s for w in workers for s in threads.get(w, [])]
            idle_one[collections.Counter(running).most_common(1)[0][0]] += 1
        else:
            running = threads.get(caller, [])
            top = collections.Counter(running).most_common(1)[0][0] if running else "(nothing)"
            idle_both[top] += 1

    print(f"{args.last:.2f} s, workers {workers}, calling thread {caller}")
    print(f"all workers busy: {both_busy * width:.3f} s")
    print(f"some idle: {sum(idle_one.values()) * width:.3f} s; all idle: "
          f"{sum(idle_both.values()) * width:.3f} s")
    print("all workers idle, the calling thread in:")
    for symbol, n in idle_both.most_common(12):
        print(f"  {n * width:7.3f} s  {symbol}")
    print("some workers idle, the others in:")
    for symbol, n in idle_one.most_common(8):
        print(f"  {n * width:7.3f} s  {symbol}")


if __name__ == "__main__":
    main()
