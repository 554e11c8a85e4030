"""`make bench`: SlidingWindowStatsPooling against the design note's Python loop (over vqnb's pooling, and over a
plain-ops pooling without checks) and the compute floor.

Forward + backward at B=16, T=500, D=1024, window 25, stride 12, 2 threads; contenders interleaved, medians and
minima of repeated runs. Writes bench/results/pooling.{json,md}.
"""
import statistics, sys
import torch
from timing import interleaved, write_report
torch.set_num_threads(2)
from vqnb.pooling import SlidingWindowStatsPooling, AttentiveStatisticsPooling

REPEATS = int(sys.argv[1]) if len(sys.argv) > 1 else 7
B, T, D, W, S, H = 16, 500, 1024, 25, 12, 128


def note_loop(pool, x, mask):
    "The note's SlidingWindowStatsPooling.forward: a Python loop over full windows of the padded batch."
    windows = []
    for start in range(0, x.shape[1] - W + 1, S):
        windows.append(pool(x[:, start:start + W], mask[:, start:start + W]))
    return torch.stack(windows, dim=1)


def plain_pool(p: AttentiveStatisticsPooling):
    "The same attentive statistics pooling in plain tensor ops, without vqnb's checks (uncentred, as usually written)."
    def pool(x, mask):
        w = torch.softmax(p.attention(x).squeeze(-1).masked_fill(~mask, float('-inf')), -1)[..., None]
        mean = (w * x).sum(1)
        std = torch.sqrt(((w * x * x).sum(1) - mean ** 2).clamp(min=0) + p.eps)
        return p.proj(torch.cat([mean, std], -1))
    return pool


def main():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(B, T, D, generator=g).requires_grad_()
    mask = torch.ones(B, T, dtype=torch.bool)
    swp = SlidingWindowStatsPooling(D, W, S, H)
    loop_pool = AttentiveStatisticsPooling(D, H)
    loop_pool.load_state_dict(swp.pool.state_dict())

    def ours():
        x.grad = None; swp(x, mask)[0].sum().backward()
    def loop():
        x.grad = None; note_loop(loop_pool, x, mask).sum().backward()
    plain = plain_pool(loop_pool)
    def loop_plain():
        x.grad = None; note_loop(plain, x, mask).sum().backward()
    # the floor: score every frame once and project every window, forward and backward (about 3x the forward flops)
    a, b = torch.randn(B * T, D, generator=g), torch.randn(D, H, generator=g)
    n_win = int(((T - W + S - 1) // S) + 1)
    c, d = torch.randn(B * n_win, 2 * D, generator=g), torch.randn(2 * D, D, generator=g)
    gemm = lambda: (a @ b, c @ d)
    t = interleaved({'vectorised': ours, 'note loop': loop, 'note loop, plain ops': loop_plain, 'floor gemms': gemm}, REPEATS)
    med = {k: statistics.median(v) for k, v in t.items()}
    mins = {k: min(v) for k, v in t.items()}
    floor = 3 * med['floor gemms']
    report = dict(shape=dict(B=B, T=T, D=D, window=W, stride=S, hidden=H), repeats=REPEATS, threads=2,
                  median_s=med, min_s=mins, floor_s=floor,
                  speedup_vs_loop=med['note loop'] / med['vectorised'],
                  speedup_vs_plain_loop=med['note loop, plain ops'] / med['vectorised'], ratio_to_floor=med['vectorised'] / floor)
    table = '\n'.join([
        '| sliding-window pooling, fwd+bwd, B=16 T=500 D=1024 w=25 s=12 | median (s) | min (s) |', '|---|---|---|',
        f"| vqnb SlidingWindowStatsPooling (vectorised) | {med['vectorised']:.4f} | {mins['vectorised']:.4f} |",
        f"| the note's Python loop over vqnb's AttentiveStatisticsPooling | {med['note loop']:.4f} | {mins['note loop']:.4f} |",
        f"| the note's Python loop over a plain-ops pooling | {med['note loop, plain ops']:.4f} | {mins['note loop, plain ops']:.4f} |",
        f"| compute floor (frame scoring + window projection GEMMs, x3 for backward) | {floor:.4f} | |",
        '', f"speed-up over the loop: {report['speedup_vs_loop']:.2f}x (goal >= 3x), over the plain-ops loop: "
            f"{report['speedup_vs_plain_loop']:.2f}x; "
            f"vectorised / floor: {report['ratio_to_floor']:.2f}x"])
    write_report('pooling', report, table)


if __name__ == '__main__':
    main()
