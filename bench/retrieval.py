"""`make bench`: trie-constrained against unconstrained beam search in vqnb.retrieval, at the same beam width.

The UnitY model of the generative_retrieval experiment at its default size (d_model 64, 2 encoder layers, stride 4, 1 layer
per decoder), 64 queries of 3 s (150 log-mel frames), 500 document IDs of 4 codes of 256 + a dedup suffix, 10 beams,
2 threads. Two measurements: the whole `generate` call (encoder, semantic decoder, document search) and the document
search alone on precomputed memory, where the trie's share is largest. Contenders interleaved, medians and minima of
repeated runs. Writes bench/results/retrieval.{json,md}.
"""
import statistics, sys, time
import torch
from timing import interleaved, write_report
torch.set_num_threads(2)
from vqnb.core import evaluating
from vqnb.retrieval import (UnityConfig, UnitySpeechModel, Trie, TrieLogitsProcessor, beam_search, generate, random_ids,
                            semantic_ids)

REPEATS = int(sys.argv[1]) if len(sys.argv) > 1 else 7
Q, FRAMES, N, BEAMS = 64, 150, 500, 10


def main():
    g = torch.Generator().manual_seed(0)
    doc, sem = random_ids(N, 256, 4, seed=0), semantic_ids(torch.randn(N, 16, generator=g), 8, 2)
    torch.manual_seed(0)
    model = UnitySpeechModel(UnityConfig.for_tables(sem, doc, d_model=64, encoder_layers=2, decoder_layers=1, dropout=0.0, max_frames=300, stride=4))
    x, mask = torch.randn(Q, FRAMES, 80, generator=g), torch.ones(Q, FRAMES, dtype=torch.bool)
    trie, sem_trie = Trie.from_table(doc), Trie.from_table(sem)
    d2 = model.doc_decoder
    with evaluating(model), torch.no_grad():
        states, m = model.encode(x, mask)
        mem, mm = model.memory(states, m, model.semantic_decoder(model.semantic_decoder.inputs(sem.ids[:Q]), states, m)[1])
    step = lambda tok: d2(tok, mem, mm)[0][:, -1]          # the hypotheses of a query share its memory

    def search(processor):
        with evaluating(model), torch.no_grad(): return beam_search(step, Q, d2.length, BEAMS, d2.bos, processor)
    inside = []                                        # seconds spent inside the trie processor, per constrained search
    def timed_trie():
        proc, spent = TrieLogitsProcessor(trie), [0.]  # a fresh processor: no cache carried over
        def timed(ids, scores):
            t0 = time.perf_counter(); out = proc(ids, scores); spent[0] += time.perf_counter() - t0; return out
        search(timed); inside.append(spent[0])
    contenders = {
        'generate, trie': lambda: generate(model, x, mask, BEAMS, trie, sem_trie),
        'generate, no trie': lambda: generate(model, x, mask, BEAMS, None, sem_trie),
        'search, trie': timed_trie,
        'search, no trie': lambda: search(None)}
    t = interleaved(contenders, REPEATS)
    med = {k: statistics.median(v) for k, v in t.items()}
    mins = {k: min(v) for k, v in t.items()}
    ratio = {k: med[f'{k}, trie'] / med[f'{k}, no trie'] for k in ('generate', 'search')}
    ratio_min = {k: mins[f'{k}, trie'] / mins[f'{k}, no trie'] for k in ('generate', 'search')}
    share = statistics.median(inside) / med['search, trie']     # the processor's share of a constrained search
    report = dict(shape=dict(queries=Q, frames=FRAMES, documents=N, id_length=doc.length, beams=BEAMS, d_model=64),
                  repeats=REPEATS, threads=2, median_s=med, min_s=mins, ratio_trie_to_free=ratio,
                  ratio_of_minima=ratio_min, processor_s=statistics.median(inside), processor_share=share)
    table = '\n'.join([
        f'| beam search, {Q} queries x {BEAMS} beams, {N} IDs of length {doc.length} | median (s) | min (s) |', '|---|---|---|',
        *[f"| {k} | {med[k]:.4f} | {mins[k]:.4f} |" for k in contenders], '',
        f"trie / unconstrained (medians; minima): {ratio['generate']:.2f}x; {ratio_min['generate']:.2f}x for the whole generate "
        f"call, {ratio['search']:.2f}x; {ratio_min['search']:.2f}x for the document search alone (goal <= 1.2x). Time inside the "
        f"trie processor: {statistics.median(inside):.4f} s per search, {100 * share:.1f}% of a constrained search (the cost the "
        f"trie adds; on a loaded machine the ratios above carry the noise of the whole search)"])
    write_report('retrieval', report, table)


if __name__ == '__main__':
    main()
