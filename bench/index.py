"""`make bench`: a 1,000,000-vector `CodeIndex` against faiss `IndexPQ` at the same 4 bytes per vector.

Each contender runs in its own process (so that its peak RSS is its own): build (train where it trains, then encode
and add the vectors chunk by chunk), then search `--queries` queries for their 10 nearest rows. The vectors are drawn
in chunks of `--chunk` rows and never held all at once (1M x 384 float32 would be 1.5 GB): each chunk is corpus
embeddings (the text corpus's MiniLM vectors) plus Gaussian noise, renormalised to unit length; the queries are
drawn the same way. What is measured: build seconds, queries per second, peak RSS (`ru_maxrss`), and the machine's
load average before and after (this machine is shared: read the times with the load beside them).

- `CodeIndex`: the PQ-VAE of the latest default `pqvae_embeddings` run (or, without one, an untrained one with
  k-means codebooks: same speed, meaningless codes); its search runs through faiss (the latent codebooks in an
  `IndexPQ`), without and with a re-rank of 50 decoded candidates;
- faiss `IndexPQ(384, 4, 8)` trained on 20,000 vectors of the same stream.

`python bench/index.py --n 1000000` (default); threads: $VQNB_BENCH_THREADS (default 2). Results go to
bench/results/index.{json,md}.
"""
import argparse, json, os, platform, resource, subprocess, sys, time
import numpy as np
import torch

THREADS = int(os.environ.get('VQNB_BENCH_THREADS', 2))


def peak_rss_mb() -> float: return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stream(base: np.ndarray, n: int, chunk: int, seed: int):
    "`n` unit vectors in chunks of `chunk`: rows of `base` plus Gaussian noise (scale 0.5 of a coordinate's spread)."
    rng = np.random.default_rng(seed)
    sd = float(base.std())
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        x = base[rng.integers(len(base), size=m)] + rng.normal(0, 0.5 * sd, size=(m, base.shape[1])).astype(np.float32)
        yield (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def model_for(x: torch.Tensor):
    "The PQ-VAE of the latest successful default `pqvae_embeddings` run, or an untrained one with k-means codebooks."
    from vqnb.pqvae import PQVAE
    from vqnb.runner import runs_dir, read_status
    found = [s.parent / 'model' for s in sorted(runs_dir().glob('pqvae_embeddings/*/status.json'))
             if read_status(s.parent).get('status') == 'done' and read_status(s.parent).get('parameters', {}).get('scale') == 'default'
             and (s.parent / 'model' / 'config.json').exists()]
    if found: return PQVAE.load(found[-1]).eval(), f'trained ({found[-1]})'
    torch.manual_seed(0)
    return PQVAE().init_codebooks(x).eval(), 'untrained (no `make run` model found): k-means-initialised codebooks'


def run_contender(name: str, n: int, chunk: int, n_queries: int) -> dict:
    torch.set_num_threads(THREADS)
    import faiss
    faiss.omp_set_num_threads(THREADS)
    from vqnb.text import build_text
    base = build_text('default', progress=False).embeddings.astype(np.float32)
    queries = next(stream(base, n_queries, n_queries, seed=1))
    out = dict(contender=name, n=n)
    t0 = time.perf_counter()
    if name == 'faiss IndexPQ 4x8':
        index = faiss.IndexPQ(base.shape[1], 4, 8)
        index.train(next(stream(base, 20_000, 20_000, seed=2)))
        for x in stream(base, n, chunk, seed=0): index.add(x)
        out['build_s'] = time.perf_counter() - t0
        searches = {'search': lambda: index.search(queries, 10)}
        out['code_bytes'] = index.sa_code_size()
    else:
        from vqnb.pqvae import CodeIndex
        model, out['model'] = model_for(torch.from_numpy(base))
        torch.set_num_threads(THREADS)
        index = CodeIndex(model)
        codes = [model.encode(torch.from_numpy(x)).cpu() for x in stream(base, n, chunk, seed=0)]
        index = CodeIndex(model, torch.cat(codes)); del codes
        index.search(queries[:1], 10)                     # builds its faiss index over the latent codebooks
        out['build_s'] = time.perf_counter() - t0
        q = torch.from_numpy(queries)
        searches = {'search': lambda: index.search(q, 10), 'search, rerank 50': lambda: index.search(q, 10, rerank=50)}
        out['code_bytes'] = index.nbytes // len(index)
    for what, f in searches.items():
        ts = []
        for _ in range(3):
            t1 = time.perf_counter(); f(); ts.append(time.perf_counter() - t1)
        out[f'{what} qps'] = n_queries / float(np.median(ts))
    out['peak_rss_mb'] = peak_rss_mb()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--n', type=int, default=1_000_000)
    ap.add_argument('--chunk', type=int, default=50_000)
    ap.add_argument('--queries', type=int, default=1000)
    ap.add_argument('--contender', default=None, help=argparse.SUPPRESS)   # internal: run one contender, print JSON
    args = ap.parse_args()
    if args.contender:
        print('RESULT ' + json.dumps(run_contender(args.contender, args.n, args.chunk, args.queries)), flush=True)
        return
    rows = []
    for name in ('faiss IndexPQ 4x8', 'vqnb CodeIndex (PQ-VAE 4x256)'):
        load0 = os.getloadavg()[0]
        r = subprocess.run([sys.executable, __file__, '--contender', name, '--n', str(args.n), '--chunk', str(args.chunk),
                            '--queries', str(args.queries)], capture_output=True, text=True)
        if r.returncode: raise SystemExit(f"{name} failed:\n{r.stderr[-3000:]}")
        row = json.loads(next(l for l in r.stdout.splitlines() if l.startswith('RESULT '))[7:])
        row.update(load_before=load0, load_after=os.getloadavg()[0])
        rows.append(row); print(row, flush=True)
    faiss_qps = rows[0]['search qps']
    md = ['| index | N | bytes/vector | build s | queries/s | queries/s, rerank 50 | vs faiss | peak RSS MB | load avg (before, after) |',
          '|---|---|---|---|---|---|---|---|---|']
    md += [f"| {r['contender']} | {r['n']:,} | {r['code_bytes']} | {r['build_s']:.1f} | {r['search qps']:.0f} | "
           f"{r.get('search, rerank 50 qps', float('nan')):.0f} | {r['search qps'] / faiss_qps:.2f}x | {r['peak_rss_mb']:.0f} | "
           f"{r['load_before']:.1f}, {r['load_after']:.1f} |" for r in rows]
    env = (f"{args.queries} queries, k=10, {THREADS} threads, chunks of {args.chunk:,}; model: {rows[1].get('model')}; "
           f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared)")
    from timing import write_report
    write_report('index', dict(rows=rows, threads=THREADS), '\n'.join(md), env)


if __name__ == '__main__':
    main()
