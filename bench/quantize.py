"""`make bench`: vqnb's quantizers against the libraries people would otherwise use.

Every contender runs in one process, on the same data, with 2 threads. The contenders of a comparison are
interleaved (A, B, A, B, ...) so that load from elsewhere on a shared machine hits both alike, and the table
reports medians and minima over the repeats. Results go to bench/results/quantize.{json,md}.
"""
import platform, statistics, sys
import torch
from timing import interleaved, stats, write_report

THREADS = 2
torch.set_num_threads(THREADS)
import faiss
faiss.omp_set_num_threads(THREADS)
from vector_quantize_pytorch import VectorQuantize
from vqnb.quantize import VectorQuantizer, ProductQuantizer, ResidualVectorQuantizer, nearest_code

REPEATS = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 7






def matmul_gflops(n: int = 2048) -> float:
    "Measured float32 GEMM speed of this machine (median of interleaved repeats)."
    a, b = torch.randn(n, n), torch.randn(n, n)
    t = interleaved({'gemm': lambda: a @ b}, REPEATS)['gemm']
    return 2 * n ** 3 / statistics.median(t) / 1e9


def projected_residual(steps: int = 300, seed: int = 0) -> dict:
    "Residual VQ with codebook_dim 8 on 16-d correlated data (variance 1): vqnb against vector-quantize-pytorch's ResidualVQ."
    from vector_quantize_pytorch import ResidualVQ
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(16, 16, generator=g)
    data = torch.randn(4096, 16, generator=g) @ mix
    data = (data - data.mean(0)) / (data - data.mean(0)).pow(2).mean().sqrt()
    def fit(model, quantize):
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        for _ in range(steps):
            b = data[torch.randint(len(data), (256,), generator=g)]
            out, aux = quantize(b)
            loss = (out - b).pow(2).mean() + aux
            opt.zero_grad(); loss.backward(); opt.step()
        model.eval()
        with torch.no_grad(): return float((quantize(data)[0] - data).pow(2).mean())
    out = {}
    for cdim in (8, 4):
        torch.manual_seed(seed)
        ours = ResidualVectorQuantizer(16, 64, 4, codebook_dim=cdim, threshold_ema_dead_code=1.)
        out[f'vqnb codebook_dim={cdim}'] = fit(ours, lambda b: (lambda r: (r.quantized, r.loss))(ours(b)))
        torch.manual_seed(seed)
        peer = ResidualVQ(dim=16, codebook_size=64, num_quantizers=4, codebook_dim=cdim, kmeans_init=True, threshold_ema_dead_code=1)
        out[f'vector-quantize-pytorch codebook_dim={cdim}'] = fit(peer, lambda b: (lambda r: (r[0], r[2].sum()))(peer(b)))
    return out


def main():
    if sys.argv[1:2] == ['projection']:
        print(projected_residual()); return
    g = torch.Generator().manual_seed(0)
    rows, report = [], {}
    report['projected_residual_mse'] = projected_residual()

    # 1. train-mode forward of an EMA quantizer, N=65536, D=128, K=1024
    N, D, K = 65536, 128, 1024
    x = torch.randn(N, D, generator=g)
    ours = VectorQuantizer(D, K, decay=0.99, commitment_weight=0.25, threshold_ema_dead_code=2.0, kmeans_init=True)
    peer = VectorQuantize(dim=D, codebook_size=K, decay=0.99, commitment_weight=0.25, threshold_ema_dead_code=2,
                          kmeans_init=True, kmeans_iters=10, rotation_trick=False)   # plain straight-through, like ours
    ours.train(); peer.train()
    xin = x.clone().requires_grad_()            # as it comes from an encoder: the graph is built
    t = interleaved({'vqnb': lambda: ours(xin), 'vector-quantize-pytorch': lambda: peer(xin[None])}, REPEATS, warmup=2)
    s_ours, s_peer = stats(t['vqnb']), stats(t['vector-quantize-pytorch'])
    speedup = s_peer['median_s'] / s_ours['median_s']
    report['ema_forward'] = dict(N=N, D=D, K=K, vqnb=s_ours, peer=s_peer, speedup=speedup, goal='>= 2x')
    rows.append(('EMA VQ train forward, N=65536 D=128 K=1024', 'vector-quantize-pytorch 1.32 VectorQuantize',
                 s_ours['median_s'], s_peer['median_s'], f"{speedup:.2f}x faster", '>= 2x faster'))

    # 2. nearest-code search against the GEMM bound
    gflops = matmul_gflops()
    codebook = ours.codebook.embed.clone()
    t = interleaved({'search': lambda: nearest_code(x, codebook)}, REPEATS)
    s = stats(t['search'])
    bound = 2 * N * K * D / (gflops * 1e9)
    ratio = s['median_s'] / bound
    report['nearest_code'] = dict(N=N, D=D, K=K, search=s, gemm_gflops=gflops, gemm_bound_s=bound, ratio=ratio, goal='<= 3x')
    rows.append(('nearest-code search, N=65536 D=128 K=1024', f'GEMM bound (2NKD at {gflops:.0f} GFLOP/s)',
                 s['median_s'], bound, f"{ratio:.2f}x the bound", '<= 3x the bound'))

    # 3. product-quantizer encode, 384-d into 4 x 256, against faiss with the same codebooks
    N, D, H, K = 65536, 384, 4, 256
    x = torch.randn(N, D, generator=g)
    pq = ProductQuantizer(D, H, K, kmeans_max_samples=16384)
    pq.train(); pq(x[:16384]); pq.eval()
    fpq = faiss.ProductQuantizer(D, H, 8)
    centroids = torch.stack([h.codebook.embed for h in pq.heads]).contiguous().numpy()   # [M, ksub, dsub], faiss's layout
    faiss.copy_array_to_vector(centroids.ravel(), fpq.centroids)
    xn = x.numpy()
    agree = (pq.encode(x) == torch.from_numpy(fpq.compute_codes(xn)).long()).float().mean().item()
    t = interleaved({'vqnb': lambda: pq.encode(x), 'faiss': lambda: fpq.compute_codes(xn)}, REPEATS)
    s_ours, s_peer = stats(t['vqnb']), stats(t['faiss'])
    ratio = s_peer['median_s'] / s_ours['median_s']
    report['pq_encode'] = dict(N=N, D=D, heads=H, K=K, vqnb=s_ours, faiss=s_peer, speed_vs_faiss=ratio,
                               code_agreement=agree, goal='>= 1.0x faiss')
    rows.append(('PQ encode, N=65536 384-d into 4 x 256', f'faiss {faiss.__version__} ProductQuantizer.compute_codes',
                 s_ours['median_s'], s_peer['median_s'], f"{ratio:.2f}x faiss's speed (codes agree {agree:.1%})",
                 '>= 1.0x'))

    env = dict(python=platform.python_version(), torch=torch.__version__, threads=THREADS, repeats=REPEATS,
               machine=platform.machine(), processor=platform.processor() or 'unknown')
    report['env'] = env
    lines = ['| benchmark | compared with | vqnb median (s) | peer / bound (s) | result | goal |', '|---|---|---|---|---|---|']
    lines += [f"| {a} | {b} | {c:.4f} | {d:.4f} | {e} | {f} |" for a, b, c, d, e, f in rows]
    table = '\n'.join(lines)
    write_report('quantize', report, table, env)


if __name__ == '__main__':
    main()
