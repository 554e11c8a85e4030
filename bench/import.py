"""Import throughput and memory of training from a feature store (issue 24).

1. Import throughput: a LibriSpeech-layout folder spoken by espeak-ng (`vqnb.imports.speak_librispeech`) imported by
   `import_speech` with 2 threads: hours of audio per minute.
2. Peak RSS of one RQ-VAE training epoch reading batches through a DataLoader from a `FeatureStore` holding 1x and 10x
   the default spoken corpus's frames (500 documents of 6 s; the 10x store repeats them), each in a process of its own:
   the ratio must be within 1.2 (memory does not grow with the corpus).
Usage: python bench/import.py [--utterances 60] [--docs 500]
"""
import argparse, json, os, resource, subprocess, sys, tempfile, time
from pathlib import Path

def epoch_rss(store_dir: str, copies: int, docs: int) -> dict:
    import numpy as np, torch
    from torch.utils.data import DataLoader
    from vqnb.corpus import FeatureStore, FeatureDataset
    from vqnb.rqvae import DocumentRQVAE
    from vqnb.evaluation import pad_batch
    torch.set_num_threads(2)
    fs = FeatureStore(Path(store_dir)/f"x{copies}.f16", 80)
    rng = np.random.default_rng(0)
    chunks = [fs.append(rng.normal(size=(300, 80)).astype(np.float32)) for _ in range(docs)]
    base = list(chunks)
    for _ in range(copies - 1): chunks += [fs.append(fs.read(c)) for c in base]     # the 10x store repeats the documents
    ds = FeatureDataset(lambda i: fs.read(chunks[i]), range(len(chunks)))
    model = DocumentRQVAE(input_dim=80, latent_dim=64, codebook_size=256, num_quantizers=4, window_size=25, window_stride=12,
                          max_seq_len=300, num_encoder_layers=1, num_decoder_layers=1, nhead=4)
    opt = torch.optim.Adam(model.parameters(), 2e-3)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.time()
    for x, mask in DataLoader(ds, batch_size=16, shuffle=True, collate_fn=pad_batch):
        out = model(x, mask); opt.zero_grad(); out.loss.backward(); opt.step()
    return dict(copies=copies, items=len(chunks), store_mb=fs.path.stat().st_size / 1e6, epoch_s=time.time() - t0,
                rss_before_mb=before / 1024, peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)

def main():
    ap = argparse.ArgumentParser(); ap.add_argument('--utterances', type=int, default=60); ap.add_argument('--docs', type=int, default=500)
    ap.add_argument('--child', nargs=3); a = ap.parse_args()
    if a.child: print(json.dumps(epoch_rss(a.child[0], int(a.child[1]), int(a.child[2])))); return
    env = {**os.environ, 'OMP_NUM_THREADS': '2'}
    with tempfile.TemporaryDirectory() as tmp:
        from vqnb.imports import speak_librispeech, import_speech
        words = "the quick brown fox jumps over the lazy dog while seven bright stars shine above quiet hills".split()
        utts = [(100 + k % 5, 10 + k % 3, ' '.join(words[(k * 3 + j) % len(words)] for j in range(8 + k % 5))) for k in range(a.utterances)]
        libri = speak_librispeech(Path(tmp)/'libri', utts)
        import torch; torch.set_num_threads(2)
        t0 = time.time(); c = import_speech('bench', librispeech=libri, root=Path(tmp)/'data', progress=False); secs = time.time() - t0
        hours = sum(d['duration_s'] for d in c.docs) / 3600
        print(f"import: {len(c)} utterances, {hours * 60:.2f} min of audio in {secs:.1f} s: {hours / (secs / 60):.3f} h of audio per minute (2 threads)")
        res = []
        for copies in (1, 10):
            r = subprocess.run([sys.executable, __file__, '--child', tmp, str(copies), str(a.docs)], env=env, capture_output=True, text=True, check=True)
            res.append(json.loads(r.stdout.strip().splitlines()[-1])); print(res[-1])
        ratio = res[1]['peak_rss_mb'] / res[0]['peak_rss_mb']
        print(f"peak RSS of one epoch: {res[0]['peak_rss_mb']:.0f} MB (1x, {res[0]['store_mb']:.0f} MB store) vs "
              f"{res[1]['peak_rss_mb']:.0f} MB (10x, {res[1]['store_mb']:.0f} MB store): {ratio:.2f}x ({'within' if ratio <= 1.2 else 'ABOVE'} 1.2x)")

if __name__ == '__main__': main()
