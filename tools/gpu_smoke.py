"""`make gpu-smoke`: train a residual VQ and the document RQ-VAE for a few steps with `vqnb.train.Trainer` under
torchrun on every visible GPU (NCCL, bfloat16 autocast), then check that every parameter and buffer, codebooks
included, is identical on all ranks, and that the codebooks were trained. Not part of `make test` (CI has no GPU).

    python tools/gpu_smoke.py                                    # every visible GPU, NCCL, bfloat16 autocast
    python tools/gpu_smoke.py --backend gloo --device cpu --nproc 2   # the same on CPU processes (no autocast)

The launcher starts `torchrun --standalone`, each rank writes its final tensors to a temporary folder, and the
launcher compares them. The last line is `gpu-smoke: PASS` or `gpu-smoke: FAIL (...)`; the exit status follows it.
"""
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--backend', choices=('nccl', 'gloo'), default=None, help='default: nccl with CUDA, else gloo')
    p.add_argument('--device', choices=('cuda', 'cpu'), default=None, help='default: cuda when available')
    p.add_argument('--nproc', type=int, default=None, help='processes (default: the number of visible GPUs)')
    p.add_argument('--steps', type=int, default=6, help='training steps per model (default: 6)')
    p.add_argument('--no-amp', action='store_true', help='train in float32 (default: bfloat16 autocast on CUDA)')
    p.add_argument('--timeout', type=int, default=900, help='seconds before the run counts as hung (default: 900)')
    p.add_argument('--out', default=None, help=argparse.SUPPRESS)       # set by the launcher for the workers
    return p.parse_args(argv)

# ---- the models and their data (small sizes, synthetic data) -------------------------------------------------------

def rvq_model(torch, nn):
    from vqnb.quantize import ResidualVectorQuantizer
    class RVQAutoencoder(nn.Module):
        "A residual VQ between a linear encoder and decoder (DDP needs parameters with gradients)."
        def __init__(self, dim=32, latent=16):
            super().__init__()
            self.enc, self.dec = nn.Linear(dim, latent), nn.Linear(latent, dim)
            self.rvq = ResidualVectorQuantizer(latent, 32, 3, threshold_ema_dead_code=0.5)
        def forward(self, batch):
            x = batch[0]
            q = self.rvq(self.enc(x))
            recon = (self.dec(q.quantized).float() - x).pow(2).mean()
            return dict(loss=recon + q.loss, recon=recon)
    return RVQAutoencoder()

def rvq_data(torch, n=512, dim=32):
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(16, dim, generator=g) * 2
    return centres[torch.randint(0, 16, (n,), generator=g)] + 0.3 * torch.randn(n, dim, generator=g)

def rqvae_model(torch):
    from vqnb.rqvae import DocumentRQVAE
    return DocumentRQVAE(input_dim=20, latent_dim=32, codebook_size=16, num_quantizers=2, pooling_type='sliding_window',
                         window_size=8, window_stride=4, max_seq_len=64, num_encoder_layers=1, num_decoder_layers=1,
                         nhead=4, dropout=0.0, threshold_ema_dead_code=0.1)

def mel_like(torch, n=96, bins=20, max_len=64):
    "Log-mel-like documents: smooth spectral envelopes that drift over time, of varied lengths."
    g = torch.Generator().manual_seed(1)
    docs = []
    for _ in range(n):
        T = int(torch.randint(24, max_len + 1, (1,), generator=g))
        env = torch.randn(bins, generator=g).cumsum(0) / 3
        drift = torch.randn(T, 1, generator=g).cumsum(0) / 10
        docs.append(env[None] + drift + 0.2 * torch.randn(T, bins, generator=g))
    return docs

def pad(items):
    import torch
    x = torch.zeros(len(items), max(len(f) for f in items), items[0].shape[1])
    mask = torch.zeros(x.shape[:2], dtype=torch.bool)
    for b, f in enumerate(items): x[b, :len(f)], mask[b, :len(f)] = f, True
    return x, mask

# ---- one rank -------------------------------------------------------------------------------------------------------

def worker(args):
    import torch, torch.nn as nn, torch.distributed as dist
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    rank, world, out = int(os.environ['RANK']), int(os.environ['WORLD_SIZE']), Path(args.out)
    if args.backend:     # made here, so that --backend decides (the Trainer keeps a group it finds)
        gpu = torch.device('cuda', int(os.environ['LOCAL_RANK'])) if device == 'cuda' else None
        if gpu is not None: torch.cuda.set_device(gpu)
        dist.init_process_group(args.backend, device_id=gpu if args.backend == 'nccl' else None)
    # otherwise the Trainer sets each rank's GPU and makes the group itself (NCCL on CUDA), as in any training script
    report = dict(rank=rank, world=world, device=device)
    docs = mel_like(torch)
    for name in ('rvq', 'rqvae'):
        try: report[name] = train_one(name, args, torch, nn, docs, out, rank, world, device)
        except Exception as e:          # every rank fails alike here (same code, same shapes): report it, go on
            import traceback
            if rank == 0: traceback.print_exc()
            report[name] = dict(error=f"{type(e).__name__}: {e}".splitlines()[0][:300])
    report['backend'] = dist.get_backend() if dist.is_initialized() else 'no process group: 1 process'
    (out/f"report-rank{rank}.json").write_text(json.dumps(report, indent=1))
    if dist.is_initialized(): dist.barrier(); dist.destroy_process_group()

def train_one(name, args, torch, nn, docs, out, rank, world, device) -> dict:
    "Train model `name` for a few steps; save every parameter and buffer of this rank; return what was seen."
    from torch.utils.data import TensorDataset
    from vqnb.train import Trainer, TrainConfig
    torch.manual_seed(0)
    if name == 'rvq':
        model, x = rvq_model(torch, nn), rvq_data(torch)
        train, valid, kw = TensorDataset(x), TensorDataset(x[:64]), {}
    else:
        model = rqvae_model(torch)
        train, valid, kw = docs, docs[:16], dict(collate_fn=pad)     # the model's own training_step, called through the DDP wrapper
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0); fresh = {k: v.clone() for k, v in model.state_dict().items()}
    per_rank_batch = max(1, len(train) // (world * args.steps))
    cfg = TrainConfig(epochs=1, batch_size=per_rank_batch, lr=3e-3, checkpoint_every=args.steps, progress=False,
                      device=device, amp=not args.no_amp)
    t = Trainer(model, train, cfg, valid_data=valid, run_dir=out/name, model_config=dict(kind=name), **kw)
    hist = t.fit()
    tensors = {f"param {k}": v.detach().float().cpu() for k, v in model.named_parameters()}
    tensors |= {f"buffer {k}": v.detach().cpu() for k, v in model.named_buffers()}
    torch.save(tensors, out/f"{name}-rank{rank}.pt")
    embeds = [k for k in fresh if k.endswith('embed')]
    return dict(steps=t.step, first_loss=hist[0]['loss'], last_loss=hist[-1]['loss'],
                valid_loss=hist[-1].get('valid_loss'), autocast=repr(t._autocast().fast_dtype)
                if cfg.amp and t.device.type == 'cuda' else 'off',
                codebooks=len(embeds),
                trained=[k for k in embeds if not torch.equal(model.state_dict()[k].cpu(), fresh[k].cpu())])

# ---- the launcher ---------------------------------------------------------------------------------------------------

def compare(out: Path, world: int) -> list[str]:
    "Problems found in the ranks' tensors and reports (empty: pass)."
    import torch
    problems, reports = [], [json.loads((out/f"report-rank{r}.json").read_text()) for r in range(world)]
    for name in ('rvq', 'rqvae'):
        errors = {r['rank']: r[name]['error'] for r in reports if 'error' in r[name]}
        if errors:
            problems.append(f"{name}: failed on {len(errors)} rank(s): {sorted(set(errors.values()))[0]}")
            print(f"{name:6} FAILED: {sorted(set(errors.values()))[0]}"); continue
        states = [torch.load(out/f"{name}-rank{r}.pt", weights_only=True) for r in range(world)]
        for r, s in enumerate(states[1:], 1):
            if sorted(s) != sorted(states[0]): problems.append(f"{name}: rank {r} holds other tensors than rank 0")
            diff = [k for k in states[0] if k in s and not torch.equal(states[0][k], s[k])]
            if diff: problems.append(f"{name}: rank {r} differs from rank 0 in {len(diff)} tensor(s): {', '.join(diff[:5])}")
        rep = reports[0][name]
        if rep['codebooks'] == 0 or len(rep['trained']) != rep['codebooks']:
            problems.append(f"{name}: {rep['codebooks'] - len(rep['trained'])} of {rep['codebooks']} codebooks left at init")
        bad = [k for s in states for k, v in s.items() if v.is_floating_point() and not torch.isfinite(v).all()]
        if bad: problems.append(f"{name}: non-finite values in {', '.join(sorted(set(bad))[:5])}")
        print(f"{name:6} {world} rank(s) on {reports[0]['device']} ({reports[0]['backend']}, autocast {rep['autocast']}): "
              f"{rep['steps']} steps, loss {rep['first_loss']:.4f} -> {rep['last_loss']:.4f}, valid {rep['valid_loss']:.4f}; "
              f"{len(states[0])} tensors compared across ranks, {len(rep['trained'])}/{rep['codebooks']} codebooks trained")
    return problems

def launch(args) -> int:
    import torch
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if device == 'cuda' and not torch.cuda.is_available():
        print('gpu-smoke: FAIL (no CUDA device visible; on CPU use --backend gloo --device cpu --nproc 2)'); return 1
    nproc = args.nproc or (torch.cuda.device_count() if device == 'cuda' else 2)
    if device == 'cuda' and nproc > torch.cuda.device_count():
        print(f'gpu-smoke: FAIL (--nproc {nproc} but {torch.cuda.device_count()} GPU(s) visible)'); return 1
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', f'--nproc_per_node={nproc}', __file__,
               '--out', tmp, '--steps', str(args.steps)] + ['--no-amp'] * args.no_amp + [a for k in ('backend', 'device') if getattr(args, k)
                                                           for a in (f'--{k}', getattr(args, k))]
        env = {**os.environ, 'PYTHONPATH': os.pathsep.join(filter(None, [str(ROOT), os.environ.get('PYTHONPATH')]))}
        print('$', ' '.join(cmd), flush=True)
        t0 = time.time()
        try: r = subprocess.run(cmd, env=env, timeout=args.timeout)
        except subprocess.TimeoutExpired: print(f'gpu-smoke: FAIL (no result within {args.timeout} s: a hang in a collective?)'); return 1
        if r.returncode != 0: print(f'gpu-smoke: FAIL (torchrun exited with {r.returncode})'); return 1
        problems = compare(Path(tmp), nproc)
    for p in problems: print('  problem:', p)
    print(f"gpu-smoke: {'PASS' if not problems else 'FAIL (' + str(len(problems)) + ' problem(s))'} "
          f"({nproc} process(es), {time.time() - t0:.0f} s)")
    return 1 if problems else 0

if __name__ == '__main__':
    args = parse()
    if args.out: worker(args)
    else: sys.exit(launch(args))
