"""Import throughput and memory of training from a feature store (issue 24).

1. Import throughput: a LibriSpeech-layout folder spoken by espeak-ng (`vqnb.imports.speak_librispeech`) imported by
   `import_speech` with 2 threads: hours of audio per minute.
2. Peak RSS of one RQ-VAE training epoch reading batches through a DataLoader from a `FeatureStore` holding 1x and 10x
   a corpus of `--docs` documents of 300 frames (6 s at 50 frames/s) of `--dim` channels (the 10x store repeats them),
   each epoch in a process of its own that only trains: the ratio must be within 1.2 (memory does not grow with the
   corpus). The channels are wide (1024, not log-mel's 80) so that the store's bytes, not the model's compute, are
   large: held in memory as float32, the 10x corpus would add ~0.5 GB to a ~1 GB process. With `--mmap` the same
   epochs also read the store through a memory map, which `FeatureStore` does not use.
Usage: python bench/import.py [--utterances 20] [--docs 40] [--dim 1024] [--batch 4] [--mmap]
"""
import argparse, json, os, resource, subprocess, sys, tempfile, time
from pathlib import Path

def build_store(store_dir: str, copies: int, docs: int, dim: int) -> list[dict]:
    "A store of `docs` random 6-s documents, repeated `copies` times; its chunk records (saved beside it)."
    import numpy as np
    from vqnb.corpus import FeatureStore
    fs = FeatureStore(Path(store_dir)/f"x{copies}.f16", dim)
    rng = np.random.default_rng(0)
    base = [rng.normal(size=(300, dim)).astype(np.float32) for _ in range(docs)]
    chunks = [fs.append(x) for _ in range(copies) for x in base]
    (Path(store_dir)/f"x{copies}.json").write_text(json.dumps(chunks))
    return chunks

def epoch_rss(store_dir: str, copies: int, mode: str, dim: int, batch: int) -> dict:
    "Train one epoch of a small DocumentRQVAE over the store `x{copies}` (read by `FeatureStore`, or by a memory map)."
    import numpy as np, torch
    from torch.utils.data import DataLoader
    from vqnb.corpus import FeatureStore, FeatureDataset
    from vqnb.rqvae import DocumentRQVAE
    from vqnb.evaluation import pad_batch
    torch.set_num_threads(2); torch.manual_seed(0)
    fs, chunks = FeatureStore(Path(store_dir)/f"x{copies}.f16", dim), json.loads((Path(store_dir)/f"x{copies}.json").read_text())
    if mode == 'mmap':
        mm = np.memmap(fs.path, dtype=np.float16, mode='r')
        read = lambda i: mm[chunks[i]['offset'] // 2:(chunks[i]['offset'] + chunks[i]['bytes']) // 2].reshape(-1, dim)
    else: read = lambda i: fs.read(chunks[i])
    ds = FeatureDataset(read, range(len(chunks)))
    model = DocumentRQVAE(input_dim=dim, latent_dim=32, codebook_size=64, num_quantizers=2, window_size=25, window_stride=12,
                          max_seq_len=300, num_encoder_layers=1, num_decoder_layers=1, nhead=2)
    opt = torch.optim.Adam(model.parameters(), 2e-3)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.time()
    for x, mask in DataLoader(ds, batch_size=batch, shuffle=True, collate_fn=pad_batch):
        out = model(x, mask); opt.zero_grad(); out.loss.backward(); opt.step()
    return dict(copies=copies, mode=mode, items=len(chunks), store_mb=round(fs.path.stat().st_size / 1e6, 1),
                epoch_s=round(time.time() - t0, 1), rss_before_mb=round(before / 1024),
                peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--utterances', type=int, default=20); ap.add_argument('--docs', type=int, default=40)
    ap.add_argument('--dim', type=int, default=1024); ap.add_argument('--batch', type=int, default=4)
    ap.add_argument('--mmap', action='store_true'); ap.add_argument('--child', nargs=5)
    a = ap.parse_args()
    if a.child: print(json.dumps(epoch_rss(a.child[0], int(a.child[1]), a.child[2], int(a.child[3]), int(a.child[4])))); return
    env = {**os.environ, 'OMP_NUM_THREADS': '2'}
    with tempfile.TemporaryDirectory() as tmp:
        from vqnb.imports import speak_librispeech, import_speech
        words = "the quick brown fox jumps over the lazy dog while seven bright stars shine above quiet hills".split()
        utts = [(100 + k % 5, 10 + k % 3, ' '.join(words[(k * 3 + j) % len(words)] for j in range(8 + k % 5))) for k in range(a.utterances)]
        libri = speak_librispeech(Path(tmp)/'libri', utts)
        import torch; torch.set_num_threads(2)
        t0 = time.time(); c = import_speech('bench', librispeech=libri, root=Path(tmp)/'data', progress=False); secs = time.time() - t0
        hours = sum(d['duration_s'] for d in c.docs) / 3600
        print(f"import: {len(c)} utterances, {hours * 60:.2f} min of audio in {secs:.1f} s: "
              f"{hours / (secs / 60):.3f} h of audio per minute (2 threads)", flush=True)
        for copies in (1, 10): build_store(tmp, copies, a.docs, a.dim)
        res = {}
        for mode in ('store', 'mmap') if a.mmap else ('store',):
            for copies in (1, 10):         # each epoch in a fresh process: ru_maxrss is that epoch's peak alone
                r = subprocess.run([sys.executable, __file__, '--child', tmp, str(copies), mode, str(a.dim), str(a.batch)], env=env, capture_output=True,
                                   text=True, check=True)
                res[mode, copies] = json.loads(r.stdout.strip().splitlines()[-1]); print(res[mode, copies], flush=True)
            one, ten = res[mode, 1], res[mode, 10]
            ratio = ten['peak_rss_mb'] / one['peak_rss_mb']
            print(f"{mode}: peak RSS of one epoch {one['peak_rss_mb']} MB (1x: {one['items']} documents, {one['store_mb']} MB store) "
                  f"vs {ten['peak_rss_mb']} MB (10x: {ten['items']}, {ten['store_mb']} MB): {ratio:.2f}x "
                  f"({'within' if ratio <= 1.2 else 'ABOVE'} 1.2x)", flush=True)

if __name__ == '__main__': main()
