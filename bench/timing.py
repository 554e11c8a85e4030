"""Timing shared by the benchmarks: contenders interleaved round-robin, so that load from elsewhere on a
shared machine hits them alike; compare medians or minima, never single runs."""
import statistics, time


def interleaved(contenders: dict, repeats: int = 7, warmup: int = 1) -> dict:
    "Time each zero-argument callable `repeats` times, round-robin; return seconds per contender."
    for f in contenders.values():
        for _ in range(warmup): f()
    times = {k: [] for k in contenders}
    for _ in range(repeats):
        for k, f in contenders.items():
            t0 = time.perf_counter(); f(); times[k].append(time.perf_counter() - t0)
    return times


def stats(ts) -> dict: return dict(median_s=statistics.median(ts), min_s=min(ts), runs=len(ts))


def write_report(name: str, report: dict, table: str, env: str = ''):
    "Write `results/NAME.json` and `results/NAME.md` beside the benchmarks, and print the table."
    import json
    from pathlib import Path
    out = Path(__file__).parent / 'results'
    out.mkdir(exist_ok=True)
    (out / f'{name}.json').write_text(json.dumps(report, indent=1))
    (out / f'{name}.md').write_text(table + (f"\n\n{env}\n" if env else '\n'))
    print(table)
    print((f"\n{env}\n" if env else '\n') + f"written to {out}/{name}.json and {name}.md")
