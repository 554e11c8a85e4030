"""`make bench`: the PQ-VAE's encoder and `CodeIndex` search against faiss `IndexPQ` at the same 4 bytes per vector.

Same data for both: the MiniLM embeddings of the text corpus (the default build if there is one, else the small one),
4 x 256 codes each. The PQ-VAE is the model `make run` trained (the latest default `pqvae_embeddings` run), or, when there is none, a
fresh one with k-means-initialised codebooks (its speed is the same; its codes are not meaningful). The contenders are
interleaved (A, B, A, B, ...) with 2 threads; the table gives medians. Results go to bench/results/pqvae.{json,md}.
"""
import platform, sys
import numpy as np
import torch
from timing import interleaved, stats, write_report

THREADS = 2
torch.set_num_threads(THREADS)
import faiss
faiss.omp_set_num_threads(THREADS)
from vqnb.pqvae import PQVAE, CodeIndex
from vqnb.text import build_text

REPEATS = int(sys.argv[1]) if len(sys.argv) > 1 else 7
K, RERANK, N_QUERIES, N_LARGE = 10, 50, 1000, 100_000


def data() -> tuple[torch.Tensor, str]:
    for size in ('default', 'small'):
        try: return torch.tensor(build_text(size, progress=False).embeddings), size
        except Exception as e: print(f"text corpus {size!r} not available ({type(e).__name__}: {e})")
    raise SystemExit("no text corpus: run `vqnb data build --size default` first")


def latest_model(experiment: str = 'pqvae_embeddings', scale: str = 'default'):
    "The `model/` folder of the latest successful run of `experiment` at `scale` in the runs folder (None if there is none)."
    from vqnb.runner import runs_dir, read_status
    found = [s.parent / 'model' for s in sorted(runs_dir().glob(f"{experiment}/*/status.json"))
             if read_status(s.parent).get('status') == 'done'
             and read_status(s.parent).get('parameters', {}).get('scale') == scale and (s.parent / 'model' / 'config.json').exists()]
    return found[-1] if found else None


def model_for(x: torch.Tensor) -> tuple[PQVAE, str]:
    if (folder := latest_model()) is not None: return PQVAE.load(folder), f'trained ({folder})'
    else:
        torch.manual_seed(0)
        return PQVAE().init_codebooks(x).eval(), 'untrained (no `make run` model found): k-means-initialised codebooks'


def faiss_pq(x: np.ndarray) -> faiss.IndexPQ:
    index = faiss.IndexPQ(x.shape[1], 4, 8)
    index.pq.cp.min_points_per_centroid = 1    # the corpus is small for 256 centroids; do not warn
    index.train(x)
    return index


def compare(report, rows, key, label, ours, peer, what):
    t = interleaved({'vqnb': ours, 'faiss': peer}, REPEATS)
    s_ours, s_peer = stats(t['vqnb']), stats(t['faiss'])
    ratio = s_peer['median_s'] / s_ours['median_s']
    report[key] = dict(vqnb=s_ours, faiss=s_peer, speed_vs_faiss=ratio, what=what)
    rows.append((label, s_ours['median_s'], s_peer['median_s'], f"{ratio:.2f}x faiss's speed"))


def main():
    x, corpus = data()
    model, model_kind = model_for(x)
    xn = x.numpy()
    queries = x[torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:N_QUERIES]]
    qn = queries.numpy()
    fpq = faiss_pq(xn)
    report, rows = dict(corpus=corpus, n=len(x), model=model_kind), []

    compare(report, rows, 'encode', f"encode {len(x)} embeddings", lambda: model.encode(x), lambda: fpq.sa_encode(xn),
            'PQVAE.encode (MLP encoder + 4 nearest-code searches) vs IndexPQ.sa_encode')
    index = CodeIndex(model); index.add(x)
    fpq.add(xn)
    compare(report, rows, 'search', f"search {N_QUERIES} queries, k={K}, N={len(x)}",
            lambda: index.search(queries, K), lambda: fpq.search(qn, K), 'latent ADC, no rerank')
    compare(report, rows, 'search_rerank', f"search {N_QUERIES} queries, k={K}, N={len(x)}, rerank {RERANK}",
            lambda: index.search(queries, K, rerank=RERANK), lambda: fpq.search(qn, K), f'latent ADC + rerank {RERANK} decoded')

    # a larger store: the corpus's codes repeated to N_LARGE rows in both indexes (same codes, same bytes)
    reps = -(-N_LARGE // len(x))
    big = CodeIndex(model, index.codes.repeat(reps, 1)[:N_LARGE])
    fbig = faiss_pq(xn)
    fbig.add(np.tile(xn, (reps, 1))[:N_LARGE])
    compare(report, rows, 'search_large', f"search {N_QUERIES} queries, k={K}, N={N_LARGE}",
            lambda: big.search(queries, K), lambda: fbig.search(qn, K), 'latent ADC, no rerank, corpus codes tiled')
    for key in ('search', 'search_rerank', 'search_large'):
        report[key]['vqnb_qps'] = N_QUERIES / report[key]['vqnb']['median_s']
        report[key]['faiss_qps'] = N_QUERIES / report[key]['faiss']['median_s']

    env = dict(python=platform.python_version(), torch=torch.__version__, faiss=faiss.__version__, threads=THREADS,
               repeats=REPEATS, machine=platform.machine(), processor=platform.processor() or 'unknown')
    report['env'] = env
    lines = [f"PQ-VAE ({model_kind}) vs faiss IndexPQ 4x8 bits, {corpus} text corpus ({len(x)} MiniLM embeddings), 4 bytes per vector",
             '', '| benchmark | vqnb median (s) | faiss median (s) | result |', '|---|---|---|---|']
    lines += [f"| {a} | {b:.4f} | {c:.4f} | {d} |" for a, b, c, d in rows]
    table = '\n'.join(lines)
    write_report('pqvae', report, table, env)


if __name__ == '__main__':
    main()
