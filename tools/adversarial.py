#!/usr/bin/env python
"""Adversarial pass of issue 19 over the public API of every vqnb module: re-runnable, tiny inputs, one thread.

Each case states what it expects:
  - an error: good if it is raised and its message names the argument or file (any of `names`), obscure if the error
    does not name it (or is a bare library error), silent if no error is raised (the nonsense value was accepted);
  - a result: good if `check(result)` holds (a brute-force definition), silent if it does not, obscure if an error
    was raised on valid input;
  - either (both given): a clear error or a correct result (float64 input converted or refused, for instance).
A case that cannot be built (its fixture fails, an API it names is gone) counts as "not run", with the reason.

    .venv/bin/python tools/adversarial.py [-m MODULE ...] [-k SUBSTRING] [--out FILE] [--timeout S] [-v]

Prints counts by module (good / obscure / silent / not run) and writes every case that is not good to --out
(default: runs/adversarial/findings.md, git-ignored).
"""
import os
os.environ.setdefault('OMP_NUM_THREADS', '1'); os.environ.setdefault('MKL_NUM_THREADS', '1')
os.environ.setdefault('MPLBACKEND', 'Agg'); os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
os.environ.setdefault('VQNB_TRACKING', '0')
import argparse, contextlib, copy, functools, importlib, io, json, math, re, shutil, signal, sys, tempfile, time, traceback, warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
torch.set_num_threads(1)
warnings.filterwarnings('ignore')

# ---------------------------------------------------------------------------------------------------------------- framework
class NotRun(Exception):
    "The case could not be built (fixture failed, API changed)."

@dataclass
class Case:
    module: str
    name: str
    call: callable
    names: tuple = ()          # an error must name one of these (argument or file); empty = no error expected
    check: callable = None     # a result must satisfy this (returns truthy, or raises AssertionError)
    expect: str = ''           # what is expected, in words (for the report)
    snippet: str = ''          # a reproducing snippet (for the report)
    timeout: float = 30.0

@dataclass
class Outcome:
    case: Case
    verdict: str               # good / obscure / silent / not run
    detail: str = ''
    seconds: float = 0.0

CASES: list[Case] = []
_TMP = Path(tempfile.mkdtemp(prefix='vqnb-adv-'))

def tmpdir(name: str) -> Path:
    "A fresh empty folder under the run's temporary root."
    d = _TMP/name
    if d.exists(): shutil.rmtree(d)
    d.mkdir(parents=True)
    return d

def case(module, name, call, *, names=(), check=None, expect='', snippet='', timeout=30.0):
    "Register a case. `names`: words one of which a clear error must contain; `check`: a result's test."
    if isinstance(names, str): names = (names,)
    if not expect:
        expect = (f"an error naming {' or '.join(map(repr, names))}" if names else '') + \
                 (' or ' if names and check else '') + ('a correct result' if check else '')
    CASES.append(Case(module, name, call, tuple(names), check, expect, snippet, timeout))

def err(module, name, call, names, snippet='', **kw): case(module, name, call, names=names, snippet=snippet, **kw)
def ok(module, name, call, check, snippet='', **kw): case(module, name, call, check=check, snippet=snippet, **kw)

_fixtures = {}
def fixture(fn):
    "A memoised builder: a failure becomes NotRun for every case that uses it."
    @functools.wraps(fn)
    def get():
        if fn not in _fixtures:
            try: _fixtures[fn] = (True, fn())
            except Exception as e: _fixtures[fn] = (False, f"fixture {fn.__name__}: {type(e).__name__}: {e}"[:300])
        good, value = _fixtures[fn]
        if not good: raise NotRun(value)
        return value
    return get

# Where a module's names went when it was split by job (issue 18): looked up after the module itself.
MOVED = {'windows': ('matching',), 'inspector': ('audio', 'music'), 'retrieval': ('docids', 'decoding')}

def api(module: str, *names):
    "Public names of `vqnb.module` (or of the modules its names moved to); NotRun if a module or a name is gone (the API changed)."
    mods = []
    for name in (module, *MOVED.get(module, ())):
        try: mods.append(importlib.import_module(f'vqnb.{name}'))
        except Exception as e: raise NotRun(f"import vqnb.{name}: {type(e).__name__}: {e}")
    out = []
    for n in names:
        found = [getattr(m, n) for m in mods if hasattr(m, n)]
        if not found: raise NotRun(f"vqnb.{module}.{n} no longer exists")
        out.append(found[0])
    return out[0] if len(out) == 1 else out

class _Timeout(BaseException): pass
def _alarm(signum, frame): raise _Timeout()

def _message(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"

def _api_gone(e: BaseException) -> bool:
    "An error that says the case no longer fits the API (rather than a finding)."
    if isinstance(e, (ImportError, NotRun)): return True
    if isinstance(e, TypeError) and re.search(r"unexpected keyword argument|missing \d+ required positional|takes \d+ positional", str(e)):
        tb = traceback.extract_tb(e.__traceback__)
        return bool(tb) and tb[-1].filename == __file__     # raised at the call site in this file: a signature change
    if isinstance(e, AttributeError) and re.search(r"module 'vqnb|has no attribute", str(e)):
        tb = traceback.extract_tb(e.__traceback__)
        return bool(tb) and tb[-1].filename == __file__
    return False

def _checked(c: Case, result) -> tuple[bool, str]:
    try:
        r = c.check(result)
        return (r is None or bool(r)), ('' if r is None or bool(r) else 'check returned False')
    except NotRun: raise
    except AssertionError as e: return False, f"check failed: {e}"[:300]
    except Exception as e: return False, f"check raised {_message(e)}"[:300]

def run_case(c: Case) -> Outcome:
    t0 = time.perf_counter()
    signal.signal(signal.SIGALRM, _alarm); signal.setitimer(signal.ITIMER_REAL, c.timeout)
    try:
        with torch.random.fork_rng(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
             warnings.catch_warnings():
            warnings.simplefilter('ignore'); torch.manual_seed(0)
            try: result, error = c.call(), None
            except NotRun: raise
            except _Timeout: raise
            except Exception as e: result, error = None, e
            if error is None and c.check is not None: good, why = _checked(c, result)
    except NotRun as e:
        return Outcome(c, 'not run', str(e)[:300], time.perf_counter() - t0)
    except _Timeout:
        return Outcome(c, 'obscure', f"no answer within {c.timeout:.0f} s (hang)", time.perf_counter() - t0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    dt = time.perf_counter() - t0
    if error is not None:
        if _api_gone(error): return Outcome(c, 'not run', f"API changed: {_message(error)}"[:300], dt)
        msg = _message(error)
        if c.names and any(n.lower() in msg.lower() for n in c.names): return Outcome(c, 'good', msg[:200], dt)
        if c.names: return Outcome(c, 'obscure', f"error does not name {'/'.join(c.names)}: {msg}"[:400], dt)
        return Outcome(c, 'obscure', f"error on valid input: {msg}"[:400], dt)
    if c.check is not None:
        if good: return Outcome(c, 'good', '', dt)
        return Outcome(c, 'silent', f"wrong result accepted: {why}"[:400], dt)
    return Outcome(c, 'silent', f"accepted without error; returned {_short(result)}", dt)

def _short(x) -> str:
    try:
        if isinstance(x, torch.Tensor):
            return f"tensor{tuple(x.shape)} {x.dtype}" + (f" finite={bool(torch.isfinite(x.float()).all())}" if x.is_floating_point() and x.numel() else '')
        if isinstance(x, np.ndarray): return f"array{x.shape} {x.dtype}"
        s = repr(x)
    except Exception: s = type(x).__name__
    return s[:120]

# -------------------------------------------------------------------------------------------------------------- helpers
def finite(t) -> bool:
    t = torch.as_tensor(t)
    return bool(torch.isfinite(t.float()).all()) if t.is_floating_point() else True

def close(a, b, tol=1e-5) -> bool:
    a, b = torch.as_tensor(a).double(), torch.as_tensor(b).double()
    return a.shape == b.shape and bool(((a - b).abs() <= tol * (1 + b.abs())).all())

def flip_byte(path: Path, at: float = 0.5):
    "Flip one byte of `path` (at a fraction of its length)."
    data = bytearray(path.read_bytes()); i = min(len(data) - 1, int(len(data) * at)); data[i] ^= 0xFF
    path.write_bytes(bytes(data))

def truncate(path: Path, keep: float = 0.5):
    data = path.read_bytes(); path.write_bytes(data[:int(len(data) * keep)])

def non_utf8(path: Path):
    path.write_bytes(b'{"\xff\xfe": 1}')

def copy_tree(src: Path, name: str) -> Path:
    d = _TMP/name
    if d.exists(): shutil.rmtree(d)
    shutil.copytree(src, d)
    return d

def model_dir(model, name: str, **meta) -> Path:
    return Path(model.save(tmpdir(name)/'m', **meta))

def weights_file(folder: Path) -> Path:
    f = sorted(Path(folder).glob('*.safetensors')) or sorted(Path(folder).glob('*.pt'))
    if not f: raise NotRun(f"no weights file in {folder}")
    return f[0]

def config_file(folder: Path) -> Path:
    f = sorted(Path(folder).glob('config*.json')) or sorted(Path(folder).glob('*.json'))
    if not f: raise NotRun(f"no config file in {folder}")
    return f[0]

def saved_file_cases(module, model, load, stem):
    "Damaged saved-model cases for a model with SavedModel save/load: flipped byte, truncation, bad JSON, NaN weights."
    def mk(damage, target):
        def call():
            d = model_dir(model(), f"{stem}-{damage.__name__}-{target}")
            f = weights_file(d) if target == 'weights' else config_file(d)
            damage(f); return load()(d), f
        return call
    for dmg, tgt in ((flip_byte, 'weights'), (truncate, 'weights'), (truncate, 'config'), (non_utf8, 'config')):
        def call(dmg=dmg, tgt=tgt):
            d = model_dir(model(), f"{stem}-{dmg.__name__}-{tgt}")
            f = weights_file(d) if tgt == 'weights' else config_file(d)
            dmg(f)
            try: return load()(d)
            except Exception as e:
                if f.name in str(e) or str(d) in str(e): raise ValueError(f"names file: {e}")
                raise
        err(module, f"{stem} load: {dmg.__name__} {tgt} file", call, ('names file',),
            snippet=f"{stem}.save(d); {dmg.__name__}(d/<{tgt} file>); {stem}.load(d)")
    def nan_weights():
        m = copy.deepcopy(model())
        with torch.no_grad():
            for p in m.parameters():
                if p.is_floating_point(): p.view(-1)[0] = float('nan'); break
        d = model_dir(m, f"{stem}-nan")
        return load()(d)
    err(module, f"{stem} load: NaN weights refused", nan_weights, ('nan', 'finite', 'allow_nonfinite'),
        snippet=f"param[0]=nan; {stem}.save(d); {stem}.load(d)")

# ------------------------------------------------------------------------------------------------------------ the cases
CASE_MODULES = []
def cases_for(module):
    def deco(fn): CASE_MODULES.append((module, fn)); return fn
    return deco

# ============================================================================ core
@cases_for('core')
def _core():
    check_int, check_number, check_choice, read_json, as_tensor = api('core', 'check_int', 'check_number', 'check_choice', 'read_json', 'as_tensor')
    err('core', 'check_int float', lambda: check_int('n', 2.5), 'n')
    err('core', 'check_int bool', lambda: check_int('n', True), 'n')
    err('core', 'check_int below min', lambda: check_int('n', 0, min=1), 'n')
    ok('core', 'check_int numpy integer', lambda: check_int('n', np.int64(3)), lambda r: r == 3 and type(r) is int)
    err('core', 'check_number nan', lambda: check_number('x', float('nan')), 'x')
    err('core', 'check_number inf', lambda: check_number('x', float('inf')), 'x')
    err('core', 'check_number string', lambda: check_number('x', '1.0'), 'x')
    err('core', 'check_number open min', lambda: check_number('x', 0.0, min=0, min_open=True), 'x')
    err('core', 'check_choice unknown', lambda: check_choice('mode', 'z', ('a', 'b')), 'mode')
    def bad_json(content):
        def call():
            f = tmpdir('json')/'x.json'; f.write_bytes(content); return read_json(f)
        return call
    err('core', 'read_json non-UTF-8', bad_json(b'{"\xff": 1}'), 'x.json')
    err('core', 'read_json truncated', bad_json(b'{"a": [1, 2'), 'x.json')
    err('core', 'read_json missing file', lambda: read_json(_TMP/'nope.json'), 'nope.json')
    err('core', 'as_tensor string', lambda: as_tensor('x', 'abc'), 'x')
    err('core', 'as_tensor ragged list', lambda: as_tensor('x', [[1, 2], [3]]), 'x')

# ============================================================================ quantize
@cases_for('quantize')
def _quantize():
    VQ, RVQ, PQ, FSQ, OPQ, nearest_code, kmeans_codebook, beam_encode = api('quantize', 'VectorQuantizer', 'ResidualVectorQuantizer',
        'ProductQuantizer', 'FiniteScalarQuantizer', 'OrthogonalProductQuantizer', 'nearest_code', 'kmeans_codebook', 'beam_encode')
    D, K = 8, 16
    fit = torch.randn(128, D)
    def trained(make):
        @fixture
        def build():
            q = make(); q.train()(fit); return q.eval()
        build.__name__ = f"q_{id(build)}"
        return build
    vq = trained(lambda: VQ(D, K)); rvq = trained(lambda: RVQ(D, K, 3)); pq = trained(lambda: PQ(D, 2, K))
    fsq = trained(lambda: FSQ(D, [5, 5, 5]) if True else None)
    qs = dict(vq=vq, rvq=rvq, pq=pq)
    # constructor nonsense
    err('quantize', 'VQ codebook_size=0', lambda: VQ(D, 0), 'codebook_size')
    err('quantize', 'VQ dim=-1', lambda: VQ(-1, K), 'dim')
    err('quantize', 'VQ decay=1.5', lambda: VQ(D, K, decay=1.5), 'decay')
    err('quantize', 'VQ commitment_weight=nan', lambda: VQ(D, K, commitment_weight=float('nan')), 'commitment_weight')
    err('quantize', 'VQ codebook_size=2.5', lambda: VQ(D, 2.5), 'codebook_size')
    err('quantize', 'RVQ num_quantizers=0', lambda: RVQ(D, K, 0), 'num_quantizers')
    err('quantize', 'PQ dim not divisible by heads', lambda: PQ(D, 3, K), ('num_heads', 'dim'))
    err('quantize', 'FSQ levels empty', lambda: FSQ(D, []), 'levels')
    err('quantize', 'FSQ level 1', lambda: FSQ(D, [1, 5]), 'levels')
    err('quantize', 'FSQ level float', lambda: FSQ(D, [2.5, 5]), 'levels')
    err('quantize', 'OPQ orthogonal_weight=-1', lambda: OPQ(8, 2, 16, orthogonal_weight=-1), 'orthogonal_weight')
    for name, q in qs.items():
        err('quantize', f'{name} encode NaN', lambda q=q: q().encode(torch.full((3, D), float('nan'))), ('x', 'nan', 'finite'))
        err('quantize', f'{name} encode inf', lambda q=q: q().encode(torch.tensor([[float('inf')] * D])), ('x', 'finite'))
        err('quantize', f'{name} encode wrong last dim', lambda q=q: q().encode(torch.randn(3, D + 1)), ('x', 'dim'))
        err('quantize', f'{name} encode int input', lambda q=q: q().encode(torch.ones(3, D, dtype=torch.long)), ('x', 'dtype', 'float'))
        err('quantize', f'{name} encode mask wrong shape', lambda q=q: q().encode(torch.randn(2, 5, D), torch.ones(2, 4, dtype=torch.bool)), 'mask')
        err('quantize', f'{name} encode float mask', lambda q=q: q().encode(torch.randn(2, 5, D), torch.ones(2, 5)), 'mask')
        ok('quantize', f'{name} encode float64 (convert or refuse)', lambda q=q: (q().encode(fit[:4].double()), q().encode(fit[:4])),
           lambda r: torch.equal(*r), names=('x', 'dtype', 'float'))
        ok('quantize', f'{name} encode empty batch', lambda q=q: q().encode(torch.zeros(0, D)), lambda r: r.shape[0] == 0 and r.dtype == torch.int64)
        ok('quantize', f'{name} encode all-False mask', lambda q=q: q().encode(torch.randn(2, 3, D), torch.zeros(2, 3, dtype=torch.bool)),
           lambda r: bool((r == -1).all()))
        ok('quantize', f'{name} forward all-False mask finite loss', lambda q=q: q()(torch.randn(2, 3, D), torch.zeros(2, 3, dtype=torch.bool)),
           lambda r: finite(r.loss) and finite(r.quantized))
        ok('quantize', f'{name} forward empty batch', lambda q=q: q()(torch.zeros(0, D)), lambda r: r.quantized.shape == (0, D) and finite(r.loss))
        ok('quantize', f'{name} one-row equals batch', lambda q=q: (q().encode(fit[:1]), q().encode(fit[:5])[:1]), lambda r: torch.equal(*r))
        err('quantize', f'{name} decode code out of range', lambda q=q, name=name: q().decode(torch.full((2,) + ((3,) if name == 'rvq' else (2,) if name == 'pq' else ()), K)), ('codes', 'range'))
        err('quantize', f'{name} decode float codes', lambda q=q, name=name: q().decode(torch.zeros((2,) + ((3,) if name == 'rvq' else (2,) if name == 'pq' else ()))), 'codes')
        ok('quantize', f'{name} decode zero rows', lambda q=q, name=name: q().decode(torch.zeros((0,) + ((3,) if name == 'rvq' else (2,) if name == 'pq' else ()), dtype=torch.long)),
           lambda r: r.shape == (0, D))
        err('quantize', f'{name} decode codes < -1', lambda q=q, name=name: q().decode(torch.full((2,) + ((3,) if name == 'rvq' else (2,) if name == 'pq' else ()), -5)), 'codes')
    ok('quantize', 'vq decode(-1) is zeros (padding)', lambda: vq().decode(torch.tensor([-1, 0])), lambda r: bool((r[0] == 0).all()))
    err('quantize', 'rvq decode wrong layer count', lambda: rvq().decode(torch.zeros(2, 5, dtype=torch.long)), 'codes')
    err('quantize', 'rvq encode beam_size=0', lambda: rvq().encode(fit[:4], beam_size=0), 'beam_size')
    def greedy():
        q = rvq(); x = fit[:6]; codes = q.encode(x, beam_size=1); r = x.clone(); want = []
        for layer in q.layers:
            book = layer.codebook.vectors
            c = torch.cdist(r.double(), book.double()).argmin(1); want.append(c); r = r - book[c]
        return codes, torch.stack(want, 1)
    ok('quantize', 'rvq beam_size=1 equals greedy brute force', greedy, lambda r: torch.equal(*r))
    # nearest_code against brute force
    def nc_brute():
        x, book = torch.randn(20, 4), torch.randn(7, 4)
        return nearest_code(x, book), (torch.cdist(x.double(), book.double())).argmin(1)
    ok('quantize', 'nearest_code equals brute force', nc_brute, lambda r: torch.equal(r[0], r[1]))
    err('quantize', 'nearest_code NaN codebook', lambda: nearest_code(torch.randn(5, 4), torch.full((3, 4), float('nan'))), 'codebook')
    err('quantize', 'nearest_code dim mismatch', lambda: nearest_code(torch.randn(5, 4), torch.randn(3, 5)), ('codebook', 'x'))
    err('quantize', 'nearest_code empty codebook', lambda: nearest_code(torch.randn(5, 4), torch.randn(0, 4)), 'codebook')
    err('quantize', 'nearest_code chunk_size=0', lambda: nearest_code(torch.randn(5, 4), torch.randn(3, 4), chunk_size=0), 'chunk_size')
    err('quantize', 'kmeans_codebook codebook_size=0', lambda: kmeans_codebook(torch.randn(10, 4), 0), 'codebook_size')
    err('quantize', 'kmeans_codebook NaN samples', lambda: kmeans_codebook(torch.full((10, 4), float('nan')), 3), 'samples')
    err('quantize', 'kmeans_codebook no samples', lambda: kmeans_codebook(torch.zeros(0, 4), 3), 'samples')
    err('quantize', 'kmeans_codebook iters=-1', lambda: kmeans_codebook(torch.randn(10, 4), 3, iters=-1), 'iters')
    err('quantize', 'kmeans_codebook shrunk_rounds=1.5', lambda: kmeans_codebook(torch.randn(10, 4), 3, shrinkage=1., shrunk_rounds=1.5), 'shrunk_rounds')
    def shrunk_fixed_point():       # one more round after many: a centre is the shrunk mean of the points nearest it
        x = torch.randn(60, 3); s = 2.
        c, n = kmeans_codebook(x, 4, shrinkage=s, shrunk_rounds=50)
        lab = torch.cdist(x, c).argmin(1)
        want = torch.stack([(x[lab == k].sum(0) + s * x.mean(0)) / ((lab == k).sum() + s) for k in range(4)])
        return c, want, n, torch.bincount(lab, minlength=4).float()
    ok('quantize', 'kmeans_codebook shrunk rounds converge to shrunk means', shrunk_fixed_point,
       lambda r: torch.allclose(r[0], r[1], atol=1e-5) and torch.equal(r[2], r[3]))
    cvs = api('quantize', 'cross_validate_shrinkage')
    err('quantize', 'cross_validate_shrinkage NaN rows', lambda: cvs(torch.full((16, 4), float('nan')), 2, 1), 'x')
    err('quantize', 'cross_validate_shrinkage 1-D x', lambda: cvs(torch.randn(16), 2, 1), 'x')
    err('quantize', 'cross_validate_shrinkage num_quantizers=0', lambda: cvs(torch.randn(16, 4), 2, 0), 'num_quantizers')
    err('quantize', 'cross_validate_shrinkage folds=0', lambda: cvs(torch.randn(16, 4), 2, 1, folds=0), 'folds')
    err('quantize', 'kmeans_codebook temperature=0', lambda: kmeans_codebook(torch.randn(10, 4), 3, soft_rounds=1, temperature=0.), 'temperature')
    err('quantize', 'kmeans_codebook soft_rounds=-1', lambda: kmeans_codebook(torch.randn(10, 4), 3, soft_rounds=-1), 'soft_rounds')
    def soft_fixed_point():         # one more soft round after many: each centre is the weighted shrunk mean of the points
        x = torch.randn(60, 3); s, t = 2., 0.05
        c, n = kmeans_codebook(x, 4, shrinkage=s, soft_rounds=200, temperature=t)
        d = torch.cdist(x, c).pow(2); T = t * d.amin(1).mean()
        w = torch.softmax(-d / T, 1)
        return c, (w.T @ x + s * x.mean(0)) / (w.sum(0)[:, None] + s), n, w.sum(0)
    ok('quantize', 'kmeans_codebook soft rounds converge to weighted shrunk means', soft_fixed_point,
       lambda r: torch.allclose(r[0], r[1], atol=1e-4) and torch.allclose(r[2], r[3], atol=1e-3))
    cvt = api('quantize', 'cross_validate_temperature')
    err('quantize', 'cross_validate_temperature candidates=()', lambda: cvt(torch.randn(16, 4), 2, 1, candidates=()), 'candidates')
    err('quantize', 'cross_validate_temperature negative', lambda: cvt(torch.randn(16, 4), 2, 1, candidates=(-0.1,)), 'candidates')
    err('quantize', 'cross_validate_temperature soft_rounds=0', lambda: cvt(torch.randn(16, 4), 2, 1, soft_rounds=0), 'soft_rounds')
    err('quantize', 'cross_validate_temperature NaN rows', lambda: cvt(torch.full((16, 4), float('nan')), 2, 1), 'x')
    def beam_brute():
        x = torch.randn(6, 3); books = [torch.randn(4, 3), torch.randn(4, 3)]
        codes = beam_encode(x, books, beam_size=16)
        best = torch.stack([min(((i, j) for i in range(4) for j in range(4)), key=lambda ij: float((xi - books[0][ij[0]] - books[1][ij[1]]).pow(2).sum())).__iter__().__next__() * 0 + torch.tensor(min(((i, j) for i in range(4) for j in range(4)), key=lambda ij: float((xi - books[0][ij[0]] - books[1][ij[1]]).pow(2).sum()))) for xi in x])
        return codes, best
    ok('quantize', 'beam_encode full beam equals brute force', beam_brute, lambda r: torch.equal(r[0], r[1]))
    err('quantize', 'beam_encode empty codebook list', lambda: beam_encode(torch.randn(3, 3), []), 'codebooks')
    err('quantize', 'beam_encode codebooks of another dim', lambda: beam_encode(torch.randn(3, 3), [torch.randn(4, 2)]), ('codebooks', 'x'))
    ok('quantize', 'fsq encode empty', lambda: fsq().encode(torch.zeros(0, D)), lambda r: r.shape[0] == 0)
    err('quantize', 'fsq encode NaN', lambda: fsq().encode(torch.full((2, D), float('nan'))), ('x', 'finite', 'nan'))

# ============================================================================ codebook
@cases_for('codebook')
def _codebook():
    CodebookUsage, zipf_fit, rank_frequency = api('codebook', 'CodebookUsage', 'zipf_fit', 'rank_frequency')
    err('codebook', 'CodebookUsage codebook_size=0', lambda: CodebookUsage(0), 'codebook_size')
    err('codebook', 'CodebookUsage num_groups=0', lambda: CodebookUsage(4, 0), 'num_groups')
    err('codebook', 'update code >= size', lambda: CodebookUsage(4).update(torch.tensor([0, 4])), 'codes')
    err('codebook', 'update float codes', lambda: CodebookUsage(4).update(torch.tensor([0.5, 1.0])), 'codes')
    err('codebook', 'update wrong group count', lambda: CodebookUsage(4, 2).update(torch.zeros(3, 3, dtype=torch.long)), 'codes')
    err('codebook', 'update codes < -1', lambda: CodebookUsage(4).update(torch.tensor([0, -3])), 'codes')
    ok('codebook', 'update empty then summary finite', lambda: CodebookUsage(4).update(torch.zeros(0, dtype=torch.long)).summary(),
       lambda r: all(not isinstance(v, float) or math.isfinite(v) for v in r.values()))
    ok('codebook', 'counts equal bincount', lambda: (CodebookUsage(5).update(torch.tensor([0, 0, 3, -1, 4])).counts[0], torch.tensor([2, 0, 0, 1, 1])),
       lambda r: r[0].tolist() == r[1].tolist())
    err('codebook', 'zipf_fit all zeros', lambda: zipf_fit(torch.zeros(5)), 'counts')
    err('codebook', 'zipf_fit negative counts', lambda: zipf_fit(torch.tensor([3., -1., 2.])), 'counts')
    err('codebook', 'zipf_fit NaN counts', lambda: zipf_fit(torch.tensor([3., float('nan'), 2.])), 'counts')
    ok('codebook', 'rank_frequency sorted desc', lambda: rank_frequency(torch.tensor([1., 5., 3.])), lambda r: r[1].tolist()[:3] in ([5., 3., 1.],) or sorted(r[1].tolist(), reverse=True) == r[1].tolist())

# ============================================================================ pooling
@cases_for('pooling')
def _pooling():
    ASP, SWSP, masked_softmax, num_windows, window_starts = api('pooling', 'AttentiveStatisticsPooling', 'SlidingWindowStatsPooling',
        'masked_softmax', 'num_windows', 'window_starts')
    D = 6
    err('pooling', 'ASP input_dim=0', lambda: ASP(0), 'input_dim')
    err('pooling', 'SWSP window_size=0', lambda: SWSP(D, 0, 1), 'window_size')
    err('pooling', 'SWSP stride=0', lambda: SWSP(D, 4, 0), 'stride')
    err('pooling', 'SWSP stride > window (gaps)', lambda: SWSP(D, 4, 9), 'stride')
    err('pooling', 'ASP NaN at real frame', lambda: ASP(D, 8)(torch.full((1, 3, D), float('nan'))), ('x', 'finite', 'nan'))
    err('pooling', 'ASP wrong rank', lambda: ASP(D, 8)(torch.randn(3, D)), 'x')
    err('pooling', 'ASP wrong dim', lambda: ASP(D, 8)(torch.randn(1, 3, D + 1)), ('x', 'dim'))
    err('pooling', 'ASP float mask', lambda: ASP(D, 8)(torch.randn(1, 3, D), torch.ones(1, 3)), 'mask')
    err('pooling', 'ASP mask wrong shape', lambda: ASP(D, 8)(torch.randn(1, 3, D), torch.ones(1, 4, dtype=torch.bool)), 'mask')
    ok('pooling', 'ASP all-False mask zeros', lambda: ASP(D, 8).eval()(torch.randn(2, 3, D), torch.zeros(2, 3, dtype=torch.bool)), lambda r: bool((r == 0).all()))
    ok('pooling', 'ASP empty batch', lambda: ASP(D, 8).eval()(torch.zeros(0, 3, D)), lambda r: r.shape == (0, D))
    ok('pooling', 'ASP float64 (convert or refuse)', lambda: ASP(D, 8).eval()(torch.randn(1, 3, D, dtype=torch.float64)), lambda r: finite(r), names=('x', 'dtype', 'float'))
    err('pooling', 'SWSP NaN at real frame', lambda: SWSP(D, 2, 1, 8)(torch.full((1, 3, D), float('nan'))), ('x', 'finite', 'nan'))
    ok('pooling', 'SWSP zero-length sequence', lambda: SWSP(D, 2, 1, 8).eval()(torch.zeros(1, 0, D)), lambda r: r[1].sum() == 0, names=('x',))
    ok('pooling', 'masked_softmax all-False row zero', lambda: masked_softmax(torch.randn(2, 3), torch.tensor([[False] * 3, [True] * 3])),
       lambda r: bool((r[0] == 0).all()) and abs(float(r[1].sum()) - 1) < 1e-6)
    err('pooling', 'masked_softmax int mask', lambda: masked_softmax(torch.randn(2, 3), torch.ones(2, 3, dtype=torch.long)), 'mask')
    err('pooling', 'num_windows negative length', lambda: num_windows(torch.tensor([-3]), 4, 2), 'length')
    err('pooling', 'window_starts stride=0', lambda: window_starts(torch.tensor([5]), 4, 0), 'stride')
    err('pooling', 'num_windows float length', lambda: num_windows(torch.tensor([3.5]), 4, 2), 'length')

# ============================================================================ evaluation
@cases_for('evaluation')
def _evaluation():
    (pad_batch, recall_at_k, recall_from_ranked, snr_db, fvu, mse_by_label, mse_by_columns, usage_table, markdown_table) = api('evaluation',
        'pad_batch', 'recall_at_k', 'recall_from_ranked', 'snr_db', 'fraction_of_variance_unexplained', 'mse_by_label', 'mse_by_columns',
        'usage_table', 'markdown_table')
    # listed in the issue
    err('evaluation', 'recall_from_ranked truth -1 (issue)', lambda: recall_from_ranked(torch.tensor([[0, -1], [1, -1]]), [-1, 0], ks=(1, 2)), 'truth')
    err('evaluation', 'mse_by_columns bool mask of wrong length (issue)', lambda: mse_by_columns(torch.randn(4, 3), torch.randn(4, 3), {'a': [True, False]}), ('groups', 'a'))
    err('evaluation', 'mse_by_columns float columns (issue)', lambda: mse_by_columns(torch.randn(4, 3), torch.randn(4, 3), {'a': [0.5, 1.7]}), ('groups', 'a', 'column'))
    err('evaluation', 'mse_by_label NaN label (issue)', lambda: mse_by_label(torch.randn(4, 3), torch.randn(4, 3), [0, float('nan'), float('nan'), 1]), 'labels')
    ok('evaluation', 'markdown_table pipe and newline (issue)', lambda: markdown_table([{'a': 'x|y', 'b': 'p\nq'}]),
       lambda r: len(r.split('\n')) == 3 and len(re.split(r'(?<!\\)\|', r.split('\n')[2])) == 4)
    err('evaluation', 'pad_batch int dtype truncating floats (issue)', lambda: pad_batch([torch.tensor([[0.7]])], dtype=torch.int64), 'dtype')
    gb = api('evaluation', 'gaussian_bound_fvu')
    err('evaluation', 'gaussian_bound_fvu NaN rows', lambda: gb(torch.full((4, 3), float('nan')), 8), 'x')
    err('evaluation', 'gaussian_bound_fvu int rows', lambda: gb(torch.ones(4, 3, dtype=torch.long), 8), 'x')
    err('evaluation', 'gaussian_bound_fvu nbits=-1', lambda: gb(torch.randn(4, 3), -1), 'nbits')
    ok('evaluation', 'gaussian_bound_fvu of white noise: 2^(-2 bits / D)', lambda: gb(torch.cat([torch.eye(64), -torch.eye(64)]), 32),   # isotropic, mean 0
       lambda r: abs(r - 2 ** (-2 * 32 / 64)) < 1e-6)
    # new ones
    err('evaluation', 'pad_batch empty list', lambda: pad_batch([]), 'items')
    err('evaluation', 'pad_batch mixed dims', lambda: pad_batch([torch.zeros(2, 3), torch.zeros(2, 4)]), 'items')
    ok('evaluation', 'pad_batch mixed dtypes (promoted exactly)', lambda: pad_batch([torch.zeros(2, 3), torch.ones(2, 3, dtype=torch.long)]), lambda r: r[0].is_floating_point() and float(r[0][1].sum()) == 6, names=('items', 'dtype'))
    ok('evaluation', 'pad_batch numpy items', lambda: pad_batch([np.ones((2, 3), np.float32), np.ones((1, 3), np.float32)]), lambda r: r[0].shape == (2, 2, 3) and r[1].tolist() == [[True, True], [True, False]])
    ok('evaluation', 'pad_batch zero-length item', lambda: pad_batch([torch.zeros(0, 3), torch.ones(2, 3)]), lambda r: r[1].tolist() == [[False, False], [True, True]])
    err('evaluation', 'recall_at_k truth out of range', lambda: recall_at_k(torch.randn(2, 3), [0, 3]), 'truth')
    err('evaluation', 'recall_at_k truth wrong length', lambda: recall_at_k(torch.randn(2, 3), [0]), 'truth')
    err('evaluation', 'recall_at_k k=0', lambda: recall_at_k(torch.randn(2, 3), [0, 1], ks=(0,)), 'ks')
    err('evaluation', 'recall_at_k NaN scores', lambda: recall_at_k(torch.tensor([[float('nan'), 1.0]]), [0]), 'scores')
    err('evaluation', 'recall_at_k no queries', lambda: recall_at_k(torch.zeros(0, 3), []), ('scores', 'truth', 'queries'))
    err('evaluation', 'recall_at_k float truth', lambda: recall_at_k(torch.randn(2, 3), [0.5, 1.0]), 'truth')
    err('evaluation', 'recall_at_k 1-D scores', lambda: recall_at_k(torch.randn(3), [0]), 'scores')
    ok('evaluation', 'recall_at_k ties count against', lambda: recall_at_k(torch.tensor([[1., 1., 0.]]), [0], ks=(1, 2)), lambda r: r['recall@1'] == 0.0 and r['recall@2'] == 1.0)
    err('evaluation', 'recall_from_ranked float ranked', lambda: recall_from_ranked(torch.tensor([[0.0, 1.0]]), [0]), 'ranked')
    err('evaluation', 'recall_from_ranked ks=()', lambda: recall_from_ranked(torch.tensor([[0, 1]]), [0], ks=()), 'ks')
    ok('evaluation', 'recall_from_ranked k beyond columns', lambda: recall_from_ranked(torch.tensor([[1, 0]]), [0], ks=(5,)), lambda r: r['recall@5'] == 1.0)
    err('evaluation', 'snr_db shape mismatch', lambda: snr_db(torch.randn(3, 4), torch.randn(3, 5)), 'recon')
    err('evaluation', 'snr_db NaN recon', lambda: snr_db(torch.randn(3, 4), torch.full((3, 4), float('nan'))), 'recon')
    err('evaluation', 'snr_db all-False mask', lambda: snr_db(torch.randn(2, 3, 4), torch.randn(2, 3, 4), torch.zeros(2, 3, dtype=torch.bool)), ('mask', 'real row'))
    err('evaluation', 'snr_db int mask', lambda: snr_db(torch.randn(2, 3, 4), torch.randn(2, 3, 4), torch.ones(2, 3, dtype=torch.long)), 'mask')
    ok('evaluation', 'snr_db perfect recon is inf or error', lambda: snr_db(torch.ones(2, 3), torch.ones(2, 3)), lambda r: r == float('inf'), names=('recon', 'noise'))
    ok('evaluation', 'snr_db brute force', lambda: (snr_db(torch.tensor([[3., 4.]]), torch.tensor([[3., 3.]])), 10 * math.log10(25 / 1)), lambda r: abs(r[0] - r[1]) < 1e-6)
    err('evaluation', 'fvu constant x (zero variance)', lambda: fvu(torch.ones(4, 2), torch.zeros(4, 2), torch.ones(2)), ('x', 'variance', 'train_mean'))
    err('evaluation', 'fvu train_mean wrong dim', lambda: fvu(torch.randn(4, 2), torch.randn(4, 2), torch.zeros(3)), 'train_mean')
    err('evaluation', 'fvu NaN train_mean', lambda: fvu(torch.randn(4, 2), torch.randn(4, 2), torch.tensor([float('nan'), 0.])), 'train_mean')
    ok('evaluation', 'fvu float64 brute force', lambda: (fvu(torch.tensor([[1., 0.], [3., 2.]], dtype=torch.float64), torch.tensor([[1., 1.], [3., 2.]], dtype=torch.float64), torch.tensor([2., 1.], dtype=torch.float64)), (1 / 4) / (4 / 4)),
       lambda r: abs(r[0] - r[1]) < 1e-9)
    err('evaluation', 'mse_by_label labels wrong length', lambda: mse_by_label(torch.randn(4, 3), torch.randn(4, 3), [0, 1]), 'labels')
    err('evaluation', 'mse_by_label shape mismatch', lambda: mse_by_label(torch.randn(4, 3), torch.randn(4, 2), [0, 1, 0, 1]), 'recon')
    ok('evaluation', 'mse_by_label no rows', lambda: mse_by_label(torch.zeros(0, 3), torch.zeros(0, 3), []), lambda r: r == {}, names=('x', 'labels', 'rows'))
    err('evaluation', 'mse_by_columns column out of range', lambda: mse_by_columns(torch.randn(4, 3), torch.randn(4, 3), {'a': [5]}), ('groups', 'a', 'column'))
    err('evaluation', 'mse_by_columns empty group', lambda: mse_by_columns(torch.randn(4, 3), torch.randn(4, 3), {'a': []}), ('groups', 'a'))
    err('evaluation', 'mse_by_columns negative column', lambda: mse_by_columns(torch.randn(4, 3), torch.randn(4, 3), {'a': [-1]}), ('groups', 'a', 'column'))
    err('evaluation', 'mse_by_columns duplicate columns', lambda: mse_by_columns(torch.randn(4, 3), torch.randn(4, 3), {'a': [0, 0]}), ('groups', 'a', 'duplicate'))
    ok('evaluation', 'markdown_table empty rows', lambda: markdown_table([]), lambda r: isinstance(r, str), names=('rows',))
    err('evaluation', 'markdown_table digits=-1', lambda: markdown_table([{'a': 1.0}], digits=-1), 'digits')
    ok('evaluation', 'markdown_table NaN cell', lambda: markdown_table([{'a': float('nan')}]), lambda r: 'nan' in r.lower() or '—' in r or '-' in r)
    err('evaluation', 'usage_table not a usage', lambda: usage_table({'a': 3}), ('usages', 'a'))
# ============================================================================ rqvae
@cases_for('rqvae')
def _rqvae():
    DocumentRQVAE, document_ids, read_run_metadata, run_metadata, encode_documents = api('rqvae', 'DocumentRQVAE', 'document_ids',
        'read_run_metadata', 'run_metadata', 'encode_documents')
    D = 6
    @fixture
    def rq():
        m = DocumentRQVAE(D, 8, codebook_size=8, num_quantizers=2, window_size=4, window_stride=3, max_seq_len=16, num_encoder_layers=1,
                          num_decoder_layers=1, nhead=2, pooling_hidden_dim=8, dropout=0.0)
        m.train()(torch.randn(4, 10, D)); return m.eval()
    x = torch.randn(2, 10, D)
    err('rqvae', 'constructor codebook_size=0', lambda: DocumentRQVAE(D, 8, codebook_size=0, num_quantizers=2), 'codebook_size')
    err('rqvae', 'constructor nhead not dividing latent', lambda: DocumentRQVAE(D, 8, codebook_size=4, num_quantizers=2, nhead=3), ('nhead', 'latent_dim'))
    err('rqvae', 'constructor window_stride > window_size', lambda: DocumentRQVAE(D, 8, codebook_size=4, num_quantizers=2, nhead=2, window_size=2, window_stride=5), ('window_stride', 'stride'))
    err('rqvae', 'constructor dropout=1.5', lambda: DocumentRQVAE(D, 8, codebook_size=4, num_quantizers=2, nhead=2, dropout=1.5), 'dropout')
    err('rqvae', 'constructor pooling_type unknown', lambda: DocumentRQVAE(D, 8, codebook_size=4, num_quantizers=2, nhead=2, pooling_type='max'), 'pooling_type')
    err('rqvae', 'from_preset unknown', lambda: DocumentRQVAE.from_preset('huge'), 'preset')
    err('rqvae', 'encode NaN at real frame', lambda: rq().encode(torch.full((1, 5, D), float('nan'))), ('x', 'finite', 'nan'))
    err('rqvae', 'encode wrong feature dim', lambda: rq().encode(torch.randn(1, 5, D + 1)), ('x', 'dim'))
    err('rqvae', 'encode 2-D input', lambda: rq().encode(torch.randn(5, D)), 'x')
    err('rqvae', 'encode longer than max_seq_len', lambda: rq().encode(torch.randn(1, 40, D)), ('x', 'max_seq_len', 'frames'))
    err('rqvae', 'encode float mask', lambda: rq().encode(x, torch.ones(2, 10)), 'mask')
    err('rqvae', 'encode non-prefix mask', lambda: rq().encode(x, torch.tensor([[False, True] * 5] * 2)), 'mask')
    err('rqvae', 'encode mask wrong shape', lambda: rq().encode(x, torch.ones(2, 9, dtype=torch.bool)), 'mask')
    ok('rqvae', 'encode all-padded mask (issue regression)', lambda: rq().encode(x, torch.zeros(2, 10, dtype=torch.bool)), lambda r: bool((r[0] == -1).all()))
    ok('rqvae', 'encode empty batch', lambda: rq().encode(torch.zeros(0, 10, D)), lambda r: r[0].shape[0] == 0)
    ok('rqvae', 'encode float64 (convert or refuse)', lambda: (rq().encode(x.double())[0], rq().encode(x)[0]), lambda r: torch.equal(*r), names=('x', 'dtype', 'float'))
    ok('rqvae', 'encode one-row equals batch', lambda: (rq().encode(x[:1])[0], rq().encode(x)[0][:1]), lambda r: torch.equal(*r))
    ok('rqvae', 'forward all-padded finite loss', lambda: rq()(x, torch.zeros(2, 10, dtype=torch.bool)), lambda r: finite(r.loss))
    err('rqvae', 'decode lengths wrong count', lambda: rq().decode(torch.zeros(2, 3, 2, dtype=torch.long), torch.tensor([5])), 'lengths')
    err('rqvae', 'decode negative lengths', lambda: rq().decode(torch.zeros(1, 3, 2, dtype=torch.long), torch.tensor([-1])), 'lengths')
    err('rqvae', 'decode code out of range', lambda: rq().decode(torch.full((1, 3, 2), 8), torch.tensor([10])), 'codes')
    err('rqvae', 'decode lengths needing more windows than codes', lambda: rq().decode(torch.zeros(1, 1, 2, dtype=torch.long), torch.tensor([10])), ('lengths', 'codes'))
    err('rqvae', 'retrieval_codes unknown option', lambda: rq().retrieval_codes(x, option='Z'), 'option')
    err('rqvae', 'document_ids float codes', lambda: document_ids(torch.zeros(3, 2)), 'codes')
    ok('rqvae', 'document_ids dedup brute force', lambda: document_ids(torch.tensor([[1, 2], [1, 2], [0, 0]])),
       lambda r: len({tuple(t) for t in r[0].tolist()}) == 3 and abs(r[1] - 1 / 3) < 1e-9 or abs(r[1] - 2 / 3) < 1e-9 or abs(r[1] - 0.5) < 1e-9)
    ok('rqvae', 'document_ids uint8 codes (no wrap)', lambda: document_ids(torch.zeros(300, 1, dtype=torch.uint8)), lambda r: len({tuple(t) for t in r[0].tolist()}) == 300)
    saved_file_cases('rqvae', rq, lambda: DocumentRQVAE.load, 'DocumentRQVAE')
    def same_size_swap():
        a = model_dir(rq(), 'rq-a'); m2 = DocumentRQVAE(**rq().config) if isinstance(rq().config, dict) else None
        if m2 is None: raise NotRun('config is not a dict')
        b = model_dir(m2, 'rq-b')
        shutil.copy(weights_file(b), weights_file(a)); return DocumentRQVAE.load(a)
    err('rqvae', 'load: same-size weights swapped in', same_size_swap, ('model.safetensors', 'sha256', 'damaged'))
    def meta_missing():
        d = model_dir(rq(), 'rq-meta'); return read_run_metadata(d)
    err('rqvae', 'read_run_metadata without run metadata', meta_missing, ('feature_mean', 'metadata', 'config.json'))
    err('rqvae', 'run_metadata NaN feature_std', lambda: run_metadata(feature_mean=np.zeros(3), feature_std=np.array([1, np.nan, 1]), held_out=[], max_frames=10, corpus='x'), 'feature_std')
    err('rqvae', 'run_metadata zero feature_std', lambda: run_metadata(feature_mean=np.zeros(3), feature_std=np.zeros(3), held_out=[], max_frames=10, corpus='x'), 'feature_std')
    err('rqvae', 'run_metadata max_frames=0', lambda: run_metadata(feature_mean=np.zeros(3), feature_std=np.ones(3), held_out=[], max_frames=0, corpus='x'), 'max_frames')
    ok('rqvae', 'encode_documents empty items', lambda: encode_documents(rq(), []), lambda r: all(len(v) == 0 for v in r.values()), names=('items',))
    err('rqvae', 'encode_documents batch_size=0', lambda: encode_documents(rq(), [np.zeros((5, D), np.float32)], batch_size=0), 'batch_size')
    err('rqvae', 'encode_documents wrong dim item', lambda: encode_documents(rq(), [np.zeros((5, D + 2), np.float32)]), ('items', 'dim'))

# ============================================================================ pqvae
@cases_for('pqvae')
def _pqvae():
    PQVAE, CodeIndex, Standardizer = api('pqvae', 'PQVAE', 'CodeIndex', 'Standardizer')
    D = 8
    @fixture
    def pq():
        return PQVAE(input_dim=D, hidden_dim=16, latent_dim=8, num_heads=2, codebook_size=16, kmeans_iters=2, dropout=0.0).init_codebooks(torch.randn(64, D)).eval()
    err('pqvae', 'config latent not divisible by heads', lambda: PQVAE(input_dim=D, hidden_dim=16, latent_dim=9, num_heads=2, codebook_size=16), ('latent_dim', 'num_heads'))
    err('pqvae', 'config dropout=-0.1', lambda: PQVAE(input_dim=D, hidden_dim=16, latent_dim=8, num_heads=2, codebook_size=16, dropout=-0.1), 'dropout')
    err('pqvae', 'config unknown option', lambda: PQVAE(input_dim=D, nonsense=3), 'nonsense')
    err('pqvae', 'encode NaN', lambda: pq().encode(torch.full((2, D), float('nan'))), ('embeddings', 'finite', 'nan'))
    err('pqvae', 'encode huge finite (issue)', lambda: pq().encode(torch.full((2, D), 1e38)), 'embeddings')
    err('pqvae', 'encode wrong dim', lambda: pq().encode(torch.randn(2, D + 1)), ('embeddings', 'dim'))
    err('pqvae', 'encode 3-D', lambda: pq().encode(torch.randn(2, 3, D)), 'embeddings')
    ok('pqvae', 'encode float64 (convert or refuse)', lambda: (pq().encode(torch.ones(2, D, dtype=torch.float64)), pq().encode(torch.ones(2, D))), lambda r: torch.equal(*r), names=('embeddings', 'dtype', 'float'))
    ok('pqvae', 'encode zero rows', lambda: pq().encode(torch.zeros(0, D)), lambda r: r.shape == (0, 2))
    ok('pqvae', 'decode zero rows (issue regression)', lambda: pq().decode(torch.zeros(0, 2, dtype=torch.uint8)), lambda r: r.shape == (0, D))
    ok('pqvae', 'forward zero rows finite loss', lambda: pq()(torch.zeros(0, D)), lambda r: finite(r.loss))
    err('pqvae', 'decode code >= codebook_size', lambda: pq().decode(torch.full((1, 2), 20, dtype=torch.long)), 'codes')
    err('pqvae', 'decode wrong head count', lambda: pq().decode(torch.zeros(1, 3, dtype=torch.long)), 'codes')
    err('pqvae', 'decode float codes', lambda: pq().decode(torch.zeros(1, 2)), 'codes')
    err('pqvae', 'decode negative codes', lambda: pq().decode(torch.full((1, 2), -1)), 'codes')
    err('pqvae', 'init_codebooks on NaN', lambda: pq().init_codebooks(torch.full((20, D), float('nan'))), 'embeddings')
    err('pqvae', 'init_codebooks on zero rows', lambda: PQVAE(input_dim=D, hidden_dim=16, latent_dim=8, num_heads=2, codebook_size=16).init_codebooks(torch.zeros(0, D)), 'embeddings')
    ok('pqvae', 'Standardizer constant column (issue)', lambda: (lambda s: (s(torch.tensor([[1., 2.], [1.5, 3.]])), s.inverse(s(torch.tensor([[1., 2.], [1.5, 3.]])))))(Standardizer(2).fit(torch.tensor([[1., 2.], [1., 3.], [1., 4.]]))),
       lambda r: float(r[0].abs().max()) < 1e6 and close(r[1], torch.tensor([[1., 2.], [1.5, 3.]]), 1e-4), names=('x', 'constant', 'column'))
    err('pqvae', 'Standardizer fit NaN', lambda: Standardizer(2).fit(torch.tensor([[float('nan'), 2.], [1., 3.]])), 'x')
    err('pqvae', 'Standardizer fit one row', lambda: Standardizer(2).fit(torch.tensor([[1., 2.]])), 'x')
    err('pqvae', 'Standardizer wrong dim', lambda: Standardizer(2).fit(torch.randn(5, 3)), ('x', 'dim'))
    err('pqvae', 'CodeIndex search k=0', lambda: CodeIndex(pq(), pq().encode(torch.randn(5, D))).search(torch.randn(2, D), k=0), 'k')
    err('pqvae', 'CodeIndex search NaN query', lambda: CodeIndex(pq(), pq().encode(torch.randn(5, D))).search(torch.full((1, D), float('nan')), k=2), 'queries')
    err('pqvae', 'CodeIndex search wrong dim', lambda: CodeIndex(pq(), pq().encode(torch.randn(5, D))).search(torch.randn(1, D + 1), k=2), ('queries', 'dim'))
    err('pqvae', 'CodeIndex search backend unknown', lambda: CodeIndex(pq(), pq().encode(torch.randn(5, D))).search(torch.randn(1, D), backend='gpu9'), 'backend')
    err('pqvae', 'CodeIndex rerank negative', lambda: CodeIndex(pq(), pq().encode(torch.randn(5, D))).search(torch.randn(1, D), rerank=-1), 'rerank')
    err('pqvae', 'CodeIndex codes out of range', lambda: CodeIndex(pq(), torch.full((3, 2), 99, dtype=torch.long)), 'codes')
    ok('pqvae', 'CodeIndex empty index search', lambda: CodeIndex(pq()).search(torch.randn(1, D), k=2), lambda r: bool((r[1] == -1).all()), names=('index', 'empty', 'codes'))
    ok('pqvae', 'CodeIndex zero queries', lambda: CodeIndex(pq(), pq().encode(torch.randn(5, D))).search(torch.zeros(0, D), k=2), lambda r: r[1].shape == (0, 2), names=('queries',))
    def pq300():
        m = PQVAE(input_dim=D, hidden_dim=16, latent_dim=8, num_heads=2, codebook_size=300, kmeans_iters=1, dropout=0.0).init_codebooks(torch.randn(600, D)).eval()
        codes = m.encode(torch.randn(200, D))
        return codes
    ok('pqvae', 'codebook_size=300: codes not wrapped by uint8', pq300, lambda r: r.dtype != torch.uint8, names=('codebook_size',))
    saved_file_cases('pqvae', pq, lambda: PQVAE.load, 'PQVAE')
    def index_damage(damage):
        def call():
            d = Path(CodeIndex(pq(), pq().encode(torch.randn(5, D))).save(tmpdir(f'ix-{damage.__name__}')/'ix'))
            files = sorted(p for p in d.rglob('*') if p.is_file() and p.suffix != '.json')
            if not files: raise NotRun('index folder holds no data file')
            damage(files[0]); return CodeIndex.load(d), files[0].name
        return call
    for dmg in (flip_byte, truncate):
        err('pqvae', f'CodeIndex.load {dmg.__name__} data file', index_damage(dmg), ('codes', 'index', 'damaged', 'safetensors', '.npy', 'sha256'))
    def index_json(damage):
        def call():
            d = Path(CodeIndex(pq(), pq().encode(torch.randn(5, D))).save(tmpdir(f'ixj-{damage.__name__}')/'ix'))
            files = sorted(d.rglob('*.json'))
            if not files: raise NotRun('index folder holds no JSON')
            damage(files[0]); return CodeIndex.load(d)
        return call
    err('pqvae', 'CodeIndex.load non-UTF-8 JSON', index_json(non_utf8), ('.json',))
    err('pqvae', 'CodeIndex.load truncated JSON', index_json(truncate), ('.json',))

# ============================================================================ categorical
@cases_for('categorical')
def _categorical():
    (FeatureCleaner, CategoricalVQVAE, Config, analyze, fill_missing, ratios_from_scores, parse_ratios, allocate_bits, level_sizes,
     compute_default_latent_dims, discover_categories) = api('categorical', 'FeatureCleaner', 'CategoricalVQVAE', 'CategoricalVQVAEConfig',
        'analyze_category_characteristics', 'fill_missing_num_tokens', 'ratios_from_scores', 'parse_compression_ratios', 'allocate_bits',
        'level_sizes', 'compute_default_latent_dims', 'discover_categories')
    import pandas as pd
    cats = {'a': [0, 1, 2], 'b': [3, 4, 5]}
    X = torch.randn(64, 6)
    @fixture
    def cat():
        m = CategoricalVQVAE(categories=cats, hidden_dim=8, num_tokens=8, kmeans_iters=2)
        m.train()(X); return m.eval()
    err('categorical', 'fill_missing min_tokens > max_tokens (issue)', lambda: fill_missing([4, 4], min_tokens=300, max_tokens=256), ('min_tokens', 'max_tokens'))
    err('categorical', "compression_ratios_computed='auto' (issue)", lambda: Config(categories=cats, compression_ratios_computed='auto'), 'compression_ratios_computed')
    ok('categorical', 'forward zero rows (issue: NaN loss)', lambda: cat()(torch.zeros(0, 6)), lambda r: finite(r.loss), names=('x', 'rows', 'empty'))
    ok('categorical', 'forward float64 (issue)', lambda: (cat()(X[:4].double()).recon, cat()(X[:4]).recon), lambda r: close(*r, 1e-5), names=('x', 'dtype', 'float'))
    ok('categorical', 'FeatureCleaner integer column names (issue)', lambda: FeatureCleaner().fit_transform(pd.DataFrame(np.random.randn(20, 3))), lambda r: r.shape == (20, 3) and np.isfinite(r).all(), names=('columns', 'features'))
    ok('categorical', 'analyze 1e200 data (issue)', lambda: (analyze(np.random.randn(20, 3) * 1e200), analyze(np.random.RandomState(0).randn(20, 3))), lambda r: all(np.isfinite(v) for v in r[0].values()), names=('features',))
    err('categorical', 'CategoricalVQVAE NaN input', lambda: cat()(torch.full((2, 6), float('nan'))), 'x')
    err('categorical', 'CategoricalVQVAE wrong width', lambda: cat()(torch.randn(2, 7)), 'x')
    err('categorical', 'categories overlapping', lambda: Config(categories={'a': [0, 1], 'b': [1, 2]}), 'categories')
    err('categorical', 'categories not contiguous partition', lambda: Config(categories={'a': [0, 1], 'b': [3, 4]}), 'categories')
    err('categorical', 'categories empty group', lambda: Config(categories={'a': [], 'b': [0]}), 'categories')
    err('categorical', 'categories negative column', lambda: Config(categories={'a': [-1, 0]}), 'categories')
    err('categorical', 'compression_ratios negative', lambda: Config(categories=cats, compression_ratios='-1:1:1'), 'compression_ratios')
    err('categorical', 'compression_ratios garbage', lambda: Config(categories=cats, compression_ratios='a:b'), 'compression_ratios')
    err('categorical', 'num_tokens 0', lambda: Config(categories=cats, num_tokens=0), 'num_tokens')
    err('categorical', 'decay 2', lambda: Config(categories=cats, decay=2.0), 'decay')
    err('categorical', 'unknown strategy', lambda: Config(categories=cats, auto_compression_strategy='max'), 'auto_compression_strategy')
    err('categorical', 'decode missing category', lambda: cat().decode({'a': cat().encode(X[:2])['a']}), ('codes', 'b'))
    err('categorical', 'decode codes out of range', lambda: cat().decode({k: v.clamp(max=0) + 999 for k, v in cat().encode(X[:2]).items()}), 'codes')
    err('categorical', 'decode float codes', lambda: cat().decode({k: v.float() for k, v in cat().encode(X[:2]).items()}), 'codes')
    err('categorical', 'encode 1-D x', lambda: cat().encode(torch.randn(6)), 'x')
    err('categorical', 'fill_missing negative latent dim', lambda: fill_missing([-4, 4]), 'latent_dims')
    err('categorical', 'fill_missing tokens_per_dim 0', lambda: fill_missing([4, 4], tokens_per_dim=0), 'tokens_per_dim')
    err('categorical', 'ratios_from_scores missing score keys', lambda: ratios_from_scores({'a': 1.0}), 'scores')
    err('categorical', 'ratios_from_scores NaN score', lambda: ratios_from_scores(dict(variance_score=float('nan'), dimensionality_score=0.5, information_score=0.5, correlation_score=0.5)), 'scores')
    err('categorical', 'ratios_from_scores score 7 (outside [0, 1])', lambda: ratios_from_scores(dict(variance_score=7.0, dimensionality_score=0.5, information_score=0.5, correlation_score=0.5)), 'scores')
    err('categorical', 'ratios_from_scores unknown strategy', lambda: ratios_from_scores({'a': 1.0}, strategy='z'), 'strategy')
    err('categorical', 'parse_compression_ratios 2 values for 3 levels', lambda: parse_ratios('1:2', ['a', 'b']), 'compression_ratios')
    err('categorical', 'allocate_bits total_bits=0', lambda: allocate_bits({'a': lambda b: 1.0}, 0), 'total_bits')
    err('categorical', 'allocate_bits min_bits > max_bits', lambda: allocate_bits({'a': lambda b: 1.0}, 8, min_bits=9, max_bits=4), ('min_bits', 'max_bits'))
    err('categorical', 'level_sizes bits=-1', lambda: level_sizes(-1), 'bits')
    err('categorical', 'level_sizes max_tokens not power of 2', lambda: level_sizes(8, max_tokens=48), 'max_tokens')
    err('categorical', 'compute_default_latent_dims ratio 0', lambda: compute_default_latent_dims(6, [0, 1, 1]), 'ratios')
    err('categorical', 'discover_categories n_categories > columns', lambda: discover_categories(np.random.randn(20, 3), n_categories=5), 'n_categories')
    err('categorical', 'discover_categories NaN', lambda: discover_categories(np.full((20, 4), np.nan), n_categories=2), 'X')
    err('categorical', 'FeatureCleaner clip=-1', lambda: FeatureCleaner(clip=-1), 'clip')
    err('categorical', 'FeatureCleaner transform missing column', lambda: FeatureCleaner().fit(pd.DataFrame({'a': np.random.randn(20), 'b': np.random.randn(20)})).transform(pd.DataFrame({'a': np.random.randn(5)})), ('b', 'columns'))
    ok('categorical', 'FeatureCleaner one row transform', lambda: FeatureCleaner().fit(pd.DataFrame({'a': np.random.randn(20), 'b': np.random.randn(20)})).transform(pd.DataFrame({'a': [0.1], 'b': [0.2]})), lambda r: r.shape[0] == 1 and np.isfinite(r).all())
    err('categorical', 'FeatureCleaner all-NaN column', lambda: FeatureCleaner().fit(pd.DataFrame({'a': [np.nan] * 20, 'b': np.random.randn(20)})), ('a', 'features', 'nan'))
    saved_file_cases('categorical', cat, lambda: CategoricalVQVAE.load, 'CategoricalVQVAE')
    ok('categorical', 'save/load identity', lambda: (CategoricalVQVAE.load(model_dir(cat(), 'cat-rt')).encode(X[:5]), cat().encode(X[:5])),
       lambda r: all(torch.equal(r[0][k], r[1][k]) for k in r[1]))
# ============================================================================ windows
@cases_for('windows')
def _windows():
    (WindowSelector, TonalityReducer, window_mismatch, grid_candidates, grid_search_windows, refine_windows, refine_candidates,
     extract_window, decode_windows, encode_windows, check_ratio_range, plant_pattern, MatchSelector, keep_distinct, smooth_time, check_truth,
     window_errors, AdaptiveWindowCreativeAgent) = api('windows',
        'WindowSelector', 'TonalityReducer', 'window_mismatch', 'grid_candidates', 'grid_search_windows', 'refine_windows', 'refine_candidates',
        'extract_window', 'decode_windows', 'encode_windows', 'check_ratio_range', 'plant_pattern', 'MatchSelector', 'keep_distinct',
        'smooth_time', 'check_truth', 'window_errors', 'AdaptiveWindowCreativeAgent')
    C, fr = 4, 10.0
    small = dict(channels=C, num_pairs=2, clip_s=4.0, window_s=1.0, frame_rate=fr, pooled=5, hidden=(8,), init_starts_s=(0.0, 2.0))
    xi, xt = torch.randn(C, 40), torch.randn(C, 40)
    WK = api('windows', 'WINDOW_KEYS')
    def W0():
        return {k: (torch.ones(1, 1) if 'ratio' in k else torch.zeros(1, 1)) for k in WK}
    # the issue's listed cases
    err('windows', 'WindowSelector hidden=(0,) (issue)', lambda: WindowSelector(**(small | dict(hidden=(0,)))), 'hidden')
    err('windows', 'WindowSelector reversed ratio_range (issue)', lambda: WindowSelector(**(small | dict(ratio_range=(1.5, 1.0)))), 'ratio_range')
    err('windows', 'WindowSelector window_s=0.001 (issue)', lambda: WindowSelector(**(small | dict(window_s=0.001))), 'window_s')
    err('windows', 'WindowSelector init_ratio=3 (issue)', lambda: WindowSelector(**(small | dict(init_ratio=3.0))), 'init_ratio')
    err('windows', 'grid_candidates ratios=[-1] (issue)', lambda: grid_candidates(xi, xt, 8, ratios=[-1.0]), 'ratios')
    err('windows', 'refine_windows steps=-5 (issue)', lambda: refine_windows(xi[None], xt[None], W0(), 8, steps=-5), 'steps')
    err('windows', 'refine_candidates keep=-1 (issue)', lambda: refine_candidates(xi[None], xt[None], [grid_candidates(xi, xt, 8, k=2)], 8, keep=-1, steps=1), 'keep')
    err('windows', 'TonalityReducer strength 1.5 (issue)', lambda: TonalityReducer(C, 3)(torch.randn(1, C, 20), torch.tensor([1.5])), 'strength')
    err('windows', 'window_mismatch [1,8] vs [3,8] (issue)', lambda: window_mismatch(torch.randn(1, 8), torch.randn(3, 8)), ('b', 'a', 'shape'))
    ok('windows', 'WindowSelector float64 (issue)', lambda: WindowSelector(**small)(torch.randn(2, C, 40, dtype=torch.float64), torch.randn(2, C, 40, dtype=torch.float64)),
       lambda r: all(finite(v) for v in r.values() if isinstance(v, torch.Tensor)), names=('x_in', 'dtype'))
    err('windows', 'grid_candidates stride=0 (issue)', lambda: grid_candidates(xi, xt, 8, stride=0), 'stride')
    err('windows', 'grid_candidates rolls=() (issue)', lambda: grid_candidates(xi, xt, 8, rolls=()), 'rolls')
    err('windows', 'grid_candidates ratios=[] (issue)', lambda: grid_candidates(xi, xt, 8, ratios=[]), 'ratios')
    # new
    err('windows', 'WindowSelector NaN input', lambda: WindowSelector(**small)(torch.full((1, C, 40), float('nan')), torch.randn(1, C, 40)), 'x_in')
    err('windows', 'WindowSelector wrong channels', lambda: WindowSelector(**small)(torch.randn(1, C + 1, 40), torch.randn(1, C + 1, 40)), ('x_in', 'channels'))
    err('windows', 'WindowSelector wrong frames', lambda: WindowSelector(**small)(torch.randn(1, C, 30), torch.randn(1, C, 30)), ('x_in', 'frames'))
    err('windows', 'WindowSelector batch mismatch', lambda: WindowSelector(**small)(torch.randn(2, C, 40), torch.randn(1, C, 40)), 'x_tgt')
    ok('windows', 'WindowSelector one row', lambda: WindowSelector(**small)(torch.randn(1, C, 40), torch.randn(1, C, 40)), lambda r: all(v.shape[0] == 1 for v in r.values() if isinstance(v, torch.Tensor)))
    ok('windows', 'WindowSelector empty batch', lambda: WindowSelector(**small)(torch.zeros(0, C, 40), torch.zeros(0, C, 40)), lambda r: all(v.shape[0] == 0 for v in r.values() if isinstance(v, torch.Tensor)), names=('x_in', 'empty', 'rows'))
    err('windows', 'WindowSelector window_s > clip_s', lambda: WindowSelector(**(small | dict(window_s=5.0))), 'window_s')
    err('windows', 'WindowSelector num_pairs=0', lambda: WindowSelector(**(small | dict(num_pairs=0))), 'num_pairs')
    err('windows', 'WindowSelector frame_rate=0', lambda: WindowSelector(**(small | dict(frame_rate=0.0))), 'frame_rate')
    err('windows', 'WindowSelector init_tonality=2', lambda: WindowSelector(**(small | dict(init_tonality=2.0))), 'init_tonality')
    err('windows', 'WindowSelector init_starts_s beyond clip', lambda: WindowSelector(**(small | dict(init_starts_s=(10.0, 0.0)))), 'init_starts_s')
    err('windows', 'WindowSelector init_starts_s wrong count', lambda: WindowSelector(**(small | dict(init_starts_s=(0.0,)))), 'init_starts_s')
    err('windows', 'WindowSelector pooled=0', lambda: WindowSelector(**(small | dict(pooled=0))), 'pooled')
    err('windows', 'TonalityReducer NaN strength', lambda: TonalityReducer(C, 3)(torch.randn(1, C, 20), torch.tensor([float('nan')])), 'strength')
    err('windows', 'TonalityReducer kernel_size=0', lambda: TonalityReducer(C, 0), 'kernel_size')
    err('windows', 'TonalityReducer even kernel_size', lambda: TonalityReducer(C, 4), 'kernel_size')
    err('windows', 'window_mismatch NaN', lambda: window_mismatch(torch.full((2, 8), float('nan')), torch.randn(2, 8)), 'a')
    ok('windows', 'window_mismatch identical is 0', lambda: window_mismatch(torch.ones(2, 3, 8) * torch.arange(8.), torch.ones(2, 3, 8) * torch.arange(8.)), lambda r: float(r.abs().max()) < 1e-5)
    err('windows', 'grid_candidates length > clip', lambda: grid_candidates(xi, xt, 50), 'length')
    err('windows', 'grid_candidates k=0', lambda: grid_candidates(xi, xt, 8, k=0), 'k')
    err('windows', 'grid_candidates ratios NaN', lambda: grid_candidates(xi, xt, 8, ratios=[float('nan')]), 'ratios')
    err('windows', 'grid_candidates max_overlap=2', lambda: grid_candidates(xi, xt, 8, k=2, max_overlap=2.0), 'max_overlap')
    err('windows', 'grid_candidates rolls float', lambda: grid_candidates(xi, xt, 8, rolls=(0.5,)), 'rolls')
    err('windows', 'grid_candidates channel mismatch', lambda: grid_candidates(xi, torch.randn(C + 1, 40), 8), 'x_tgt')
    def planted_grid():
        src = torch.randn(C, 40); tgt = torch.randn(C, 40)
        tgt[:, 20:28] = src[:, 5:13]
        return grid_search_windows(src, tgt, 8, ratios=[1.0], stride=1)
    ok('windows', 'grid_search finds a planted copy (brute force)', planted_grid,
       lambda r: abs(r['start_input'] - 5) < 0.5 and abs(r['start_target'] - 20) < 0.5)
    err('windows', 'refine_windows lr=0', lambda: refine_windows(xi[None], xt[None], W0(), 8, steps=4, lr=0.0), 'lr')
    err('windows', 'refine_windows sigmas negative', lambda: refine_windows(xi[None], xt[None], W0(), 8, steps=1, sigmas=(-1.0,)), 'sigmas')
    err('windows', 'refine_windows windows missing key', lambda: refine_windows(xi[None], xt[None], {'input_start': torch.tensor([0.])}, 8, steps=4), 'windows')
    err('windows', 'smooth_time negative sigma', lambda: smooth_time(torch.randn(2, C, 20), -1.0), 'sigma')
    ok('windows', 'smooth_time sigma=0 identity', lambda: (smooth_time(xi[None], 0.0), xi[None]), lambda r: close(*r))
    err('windows', 'extract_window length=0', lambda: extract_window(torch.randn(1, C, 20), torch.tensor([0.]), torch.tensor([1.]), 0), 'length')
    err('windows', 'extract_window ratio negative', lambda: extract_window(torch.randn(1, C, 20), torch.tensor([0.]), torch.tensor([-1.]), 4), 'ratio')
    ok('windows', 'extract_window integer start ratio 1 is a slice', lambda: (extract_window(torch.arange(20.).expand(1, C, 20), torch.tensor([3.]), torch.tensor([1.]), 4), torch.arange(3., 7.).expand(1, C, 4)),
       lambda r: close(r[0].reshape(r[1].shape) if r[0].numel() == r[1].numel() else r[0], r[1], 1e-4))
    err('windows', 'check_ratio_range NaN', lambda: check_ratio_range((1.0, float('nan'))), 'ratio_range')
    err('windows', 'plant_pattern pattern longer than source', lambda: plant_pattern(torch.randn(C, 40), torch.randn(C, 40), src_start=30, pattern=20, ratio=1.0, dst_start=0), ('pattern', 'src_start'))
    err('windows', 'plant_pattern mix=2', lambda: plant_pattern(torch.randn(C, 40), torch.randn(C, 40), src_start=0, pattern=5, ratio=1.0, dst_start=0, mix=2.0), 'mix')
    err('windows', 'plant_pattern ratio 0', lambda: plant_pattern(torch.randn(C, 40), torch.randn(C, 40), src_start=0, pattern=5, ratio=0.0, dst_start=0), 'ratio')
    err('windows', 'plant_pattern negative dst_start', lambda: plant_pattern(torch.randn(C, 40), torch.randn(C, 40), src_start=0, pattern=5, ratio=1.0, dst_start=-3), 'dst_start')
    err('windows', 'check_truth missing key', lambda: check_truth({'input_start': 1.0}), 'truth')
    err('windows', 'keep_distinct k=0', lambda: keep_distinct([], 0, 8), 'k')
    err('windows', 'MatchSelector channels=0', lambda: MatchSelector(0), 'channels')
    err('windows', 'MatchSelector hop=0', lambda: MatchSelector(C, clip_s=4.0, window_s=1.0, frame_rate=fr, hop=0), 'hop')
    err('windows', 'MatchSelector window_s > clip_s', lambda: MatchSelector(C, clip_s=4.0, window_s=5.0, frame_rate=fr), 'window_s')
    @fixture
    def ms(): return MatchSelector(C, clip_s=4.0, window_s=1.0, frame_rate=fr, hop=2, dim=4, hidden=8)
    err('windows', 'MatchSelector select NaN', lambda: ms().select(torch.full((1, C, 40), float('nan')), torch.randn(1, C, 40)), 'x_in')
    ok('windows', 'MatchSelector select float64', lambda: ms().select(torch.randn(1, C, 40, dtype=torch.float64), torch.randn(1, C, 40, dtype=torch.float64)), lambda r: len(r) == 1, names=('x_in', 'dtype'))
    err('windows', 'MatchSelector select k=0', lambda: ms().select(torch.randn(1, C, 40), torch.randn(1, C, 40), k=0), 'k')
    err('windows', 'MatchSelector select stride=0', lambda: ms().select(torch.randn(1, C, 40), torch.randn(1, C, 40), stride=0), 'stride')
    ok('windows', 'MatchSelector select empty batch', lambda: ms().select(torch.zeros(0, C, 40), torch.zeros(0, C, 40)), lambda r: len(r) == 0, names=('x_in', 'rows', 'empty'))
    saved_file_cases('windows', ms, lambda: MatchSelector.load, 'MatchSelector')
    pick = dict(start_input=5.0, start_target=8.0, ratio_input=1.2, ratio_target=1.0, roll=0)
    xi1, xt1 = torch.randn(1, C, 40), torch.randn(1, C, 40)
    err('windows', 'MatchSelector candidates ratio_variants=0.1', lambda: ms().candidates(xi1, xt1, [[pick]], ratio_variants=0.1), 'ratio_variants')
    err('windows', 'MatchSelector candidates ratio_variants NaN', lambda: ms().candidates(xi1, xt1, [[pick]], ratio_variants=(float('nan'),)), 'ratio_variants')
    err('windows', 'MatchSelector candidates variant_shift_s=-1', lambda: ms().candidates(xi1, xt1, [[pick]], ratio_variants=(0.1,), variant_shift_s=-1), 'variant_shift_s')
    def variants_legal():            # every variant is a legal window pair at a ratio of the selector's range, its target start kept
        m = ms(); pool = m.candidates(xi1, xt1, [[pick]], ratio_variants=(-0.3, 0.05, 0.4))[0]
        return m, pool
    ok('windows', 'MatchSelector candidates ratio variants stay legal', variants_legal,
       lambda r: all(1.0 - 1e-6 <= c['ratio_input'] <= 1.5 + 1e-6 and c['start_input'] >= -1e-6
                     and c['start_input'] + (r[0].length - 1) * c['ratio_input'] <= 39 + 1e-4 for c in r[1] if c['score'] > float('-inf'))
       and all(c['start_target'] == r[1][n % (len(r[1]) // 4)]['start_target'] for n, c in enumerate(r[1])))
    @fixture
    def agent(): return AdaptiveWindowCreativeAgent(encoding_dim=C, num_pairs=2, clip_s=4.0, window_s=1.0, frame_rate=fr, pooled=5, hidden=(8,), init_starts_s=(0.0, 2.0))
    saved_file_cases('windows', agent, lambda: AdaptiveWindowCreativeAgent.load, 'AdaptiveWindowCreativeAgent')
    err('windows', 'agent NaN input', lambda: agent()(torch.full((1, C, 40), float('nan')), torch.randn(1, C, 40)), 'x_in')
    err('windows', 'agent diversity_weight negative', lambda: AdaptiveWindowCreativeAgent(encoding_dim=C, num_pairs=2, clip_s=4.0, window_s=1.0, frame_rate=fr, diversity_weight=-1.0), 'diversity_weight')

# ============================================================================ matching
@cases_for('matching')
def _matching():
    dtw_candidates = api('matching', 'dtw_candidates')
    C = 4
    xi, xt = torch.randn(C, 60), torch.randn(C, 60)
    err('matching', 'dtw_candidates length > clip', lambda: dtw_candidates(xi, xt, 80), 'length')
    err('matching', 'dtw_candidates k=0', lambda: dtw_candidates(xi, xt, 10, k=0), 'k')
    err('matching', 'dtw_candidates hop=0', lambda: dtw_candidates(xi, xt, 10, hop=0), 'hop')
    err('matching', 'dtw_candidates query_step=0', lambda: dtw_candidates(xi, xt, 10, query_step=0), 'query_step')
    err('matching', 'dtw_candidates NaN', lambda: dtw_candidates(torch.full((C, 60), float('nan')), xt, 10), 'x_in')
    err('matching', 'dtw_candidates reversed ratio_range', lambda: dtw_candidates(xi, xt, 10, ratio_range=(1.5, 1.0)), 'ratio_range')
    err('matching', 'dtw_candidates rolls=()', lambda: dtw_candidates(xi, xt, 10, rolls=()), 'rolls')
    err('matching', 'dtw_candidates channel mismatch', lambda: dtw_candidates(xi, torch.randn(C + 1, 60), 10), 'x_tgt')
    err('matching', 'dtw_candidates 3-D input', lambda: dtw_candidates(xi[None], xt[None], 10), 'x_in')
    ok('matching', 'dtw_candidates float64', lambda: dtw_candidates(xi.double(), xt.double(), 10), lambda r: len(r) >= 1, names=('x_in', 'dtype'))
    err('matching', 'dtw_candidates max_overlap=-1', lambda: dtw_candidates(xi, xt, 10, k=2, max_overlap=-1.0), 'max_overlap')

# ============================================================================ inspector
@cases_for('inspector')
def _inspector():
    Recording, time_compress, Window, SelectionHistory, synthetic_pair, truth_windows, WindowInspector = api('inspector', 'Recording',
        'time_compress', 'Window', 'SelectionHistory', 'synthetic_pair', 'truth_windows', 'WindowInspector')
    err('inspector', 'time_compress ratio 0', lambda: time_compress(np.zeros(100, np.float32), 0.0), 'ratio')
    err('inspector', 'time_compress NaN wave', lambda: time_compress(np.full(100, np.nan, np.float32), 1.2), 'wave')
    err('inspector', 'time_compress stereo', lambda: time_compress(np.zeros((2, 100), np.float32), 1.2), 'wave')
    ok('inspector', 'time_compress empty wave', lambda: time_compress(np.zeros(0, np.float32), 1.2), lambda r: len(r) == 0, names=('wave',))
    err('inspector', 'Recording NaN wave', lambda: Recording('a', np.full(100, np.nan, np.float32), 16000), 'wave')
    err('inspector', 'Recording sample_rate 0', lambda: Recording('a', np.zeros(100, np.float32), 0), 'sample_rate')
    err('inspector', 'Recording.segment reversed', lambda: Recording('a', np.zeros(16000, np.float32), 16000).segment(0.8, 0.2), ('start_s', 'end_s'))
    err('inspector', 'Recording.load missing file', lambda: Recording.load(_TMP/'nope.wav'), 'nope.wav')
    def bad_wav():
        f = tmpdir('wav')/'bad.wav'; f.write_bytes(b'RIFF\x00\x00garbage' * 10); return Recording.load(f)
    err('inspector', 'Recording.load garbage file', bad_wav, 'bad.wav')
    err('inspector', 'Window end before start', lambda: Window('a', 2.0, 1.0, 'x', 'truth'), ('end_s', 'start_s'))
    err('inspector', 'Window unknown kind', lambda: Window('a', 0.0, 1.0, 'x', 'zzz'), 'kind')
    err('inspector', 'Window NaN start', lambda: Window('a', float('nan'), 1.0, 'x', 'truth'), 'start_s')
    err('inspector', 'Window ratio 0', lambda: Window('a', 0.0, 1.0, 'x', 'truth', ratio=0.0), 'ratio')
    err('inspector', 'synthetic_pair ratio 3', lambda: synthetic_pair(ratio=3.0), 'ratio')
    err('inspector', 'truth_windows missing keys', lambda: truth_windows({'input_start_s': 1.0}), 'truth')
    def history(damage):
        def call():
            f = tmpdir(f'hist-{damage.__name__}')/'selection_history.json'
            f.write_text(json.dumps({'frame_rate': 50.0, 'window_s': 1.0, 'clip_s': 4.0, 'features': 'mel', 'num_pairs': 1, 'held_out': [], 'items': {}}))
            try: h = SelectionHistory.build(frame_rate=50.0, window_s=1.0, clip_s=4.0, features='mel', num_pairs=1, held_out=[]); h.save(f)
            except Exception: pass
            damage(f); return SelectionHistory.load(f)
        return call
    err('inspector', 'SelectionHistory.load truncated (issue)', history(lambda f: truncate(f, 0.6)), 'selection_history.json')
    err('inspector', 'SelectionHistory.load non-UTF-8', history(non_utf8), 'selection_history.json')
    err('inspector', 'SelectionHistory.load a JSON list', history(lambda f: f.write_text('[1, 2]')), 'selection_history.json')
    err('inspector', 'SelectionHistory.build num_pairs=0', lambda: SelectionHistory.build(frame_rate=50.0, window_s=1.0, clip_s=4.0, features='mel', num_pairs=0, held_out=[{'id': 'p0', 'epochs': [{'epoch': 0, 'pairs': []}]}]), 'num_pairs')
    err('inspector', 'SelectionHistory.build window_s > clip_s', lambda: SelectionHistory.build(frame_rate=50.0, window_s=5.0, clip_s=4.0, features='mel', num_pairs=1, held_out=[{'id': 'p0', 'epochs': [{'epoch': 0, 'pairs': []}]}]), 'window_s')
    def run_dir(kind):
        def call():
            d = tmpdir(f'run-{kind}')
            (d/'status.json').write_text(json.dumps({'status': 'done', 'experiment': 'window_selection', 'parameters': {}}))
            if kind == 'truncated': (d/'selection_history.json').write_text('{"frame_rate": 50.0, "win')
            if kind == 'empty': pass
            return WindowInspector.from_run(d)
        return call
    err('inspector', 'from_run truncated selection_history.json (issue)', run_dir('truncated'), 'selection_history.json')
    err('inspector', 'from_run folder without artefacts', run_dir('empty'), ('run_dir', str(_TMP/'run-empty'), 'selection_history', 'model'))
    err('inspector', 'from_run missing folder', lambda: WindowInspector.from_run(_TMP/'no-such-run'), ('no-such-run', 'run_dir'))
# ============================================================================ retrieval / docids / decoding
@cases_for('docids')
def _docids():
    IdTable, id_table, random_ids, atomic_ids, semantic_ids = api('docids', 'IdTable', 'id_table', 'random_ids', 'atomic_ids', 'semantic_ids')
    err('docids', 'IdTable collision_rate NaN (issue)', lambda: IdTable(torch.tensor([[0], [1]]), float('nan')), 'collision_rate')
    ok('docids', 'id_table uint8 codes (issue)', lambda: id_table(torch.zeros(300, 2, dtype=torch.uint8)), lambda r: len(r) == 300 and len({tuple(t) for t in r.ids.tolist()}) == 300)
    err('docids', 'id_table float codes', lambda: id_table(torch.zeros(3, 2)), 'codes')
    err('docids', 'id_table negative codes', lambda: id_table(torch.tensor([[-1, 0], [0, 0]])), 'codes')
    err('docids', 'id_table 1-D codes', lambda: id_table(torch.tensor([0, 1])), 'codes')
    err('docids', 'id_table zero rows', lambda: id_table(torch.zeros(0, 2, dtype=torch.long)), 'codes')
    ok('docids', 'id_table collision rate brute force', lambda: id_table(torch.tensor([[1, 1], [1, 1], [2, 2], [3, 3]])),
       lambda r: len({tuple(t) for t in r.ids.tolist()}) == 4 and r.collision_rate in (0.25, 0.5, 1 / 3))
    err('docids', 'IdTable duplicate rows', lambda: IdTable(torch.tensor([[0], [0]]), 0.0), 'ids')
    err('docids', 'IdTable.index_of wrong length', lambda: IdTable(torch.tensor([[0, 1], [1, 0]]), 0.0).index_of(torch.tensor([[0, 1, 2]])), 'ids')
    ok('docids', 'IdTable.index_of unknown row', lambda: IdTable(torch.tensor([[0, 1], [1, 0]]), 0.0).index_of(torch.tensor([[5, 5], [1, 0]])), lambda r: r.tolist() == [-1, 1])
    err('docids', 'random_ids codebook_size=0', lambda: random_ids(5, 0, 2), 'codebook_size')
    err('docids', 'atomic_ids n=0', lambda: atomic_ids(0), 'n')
    err('docids', 'semantic_ids NaN embeddings', lambda: semantic_ids(np.full((10, 4), np.nan)), 'embeddings')
    err('docids', 'semantic_ids branching=1', lambda: semantic_ids(np.random.randn(10, 4), branching=1), 'branching')
    err('docids', 'semantic_ids depth=0', lambda: semantic_ids(np.random.randn(10, 4), depth=0), 'depth')
    err('docids', 'semantic_ids 1-D', lambda: semantic_ids(np.random.randn(10)), 'embeddings')
    ok('docids', 'semantic_ids unique ids', lambda: semantic_ids(np.random.randn(30, 4), branching=3, depth=2), lambda r: len({tuple(t) for t in r.ids.tolist()}) == 30)

@cases_for('decoding')
def _decoding():
    Trie, TrieLogitsProcessor, beam_search = api('decoding', 'Trie', 'TrieLogitsProcessor', 'beam_search')
    err('decoding', 'Trie numpy integer tokens (issue: refused)', lambda: Trie([np.array([1, 2], dtype=np.int64)]).get_children(()), ('sequence',), check=lambda r: r == [1])
    err('decoding', 'Trie negative token', lambda: Trie([[1, -2]]), 'sequence')
    err('decoding', 'Trie float token', lambda: Trie([[1, 2.5]]), 'sequence')
    err('decoding', 'Trie empty sequence', lambda: Trie([[]]), 'sequence')
    err('decoding', 'Trie bool token', lambda: Trie([[True, 1]]), 'sequence')
    ok('decoding', 'Trie get_children unknown prefix', lambda: Trie([[1, 2]]).get_children((5,)), lambda r: r == [])
    err('decoding', 'TrieLogitsProcessor eos in trie tokens (issue)', lambda: TrieLogitsProcessor(Trie([[1, 2]]), eos_token_id=1), 'eos_token_id')
    err('decoding', 'TrieLogitsProcessor prefix_length=-1', lambda: TrieLogitsProcessor(Trie([[1, 2]]), prefix_length=-1), 'prefix_length')
    err('decoding', 'TrieLogitsProcessor not a trie', lambda: TrieLogitsProcessor([[1, 2]]), 'trie')
    err('decoding', 'beam_search NaN scores (issue)', lambda: beam_search(lambda t: torch.full((t.shape[0], 4), float('nan')), 1, 2, 2, 0), 'step')
    err('decoding', 'beam_search step wrong shape', lambda: beam_search(lambda t: torch.zeros(1, 4), 2, 2, 2, 0), 'step')
    err('decoding', 'beam_search num_beams=0', lambda: beam_search(lambda t: torch.zeros(t.shape[0], 4), 1, 2, 0, 0), 'num_beams')
    err('decoding', 'beam_search length=0', lambda: beam_search(lambda t: torch.zeros(t.shape[0], 4), 1, 0, 2, 0), 'length')
    err('decoding', 'beam_search +inf scores', lambda: beam_search(lambda t: torch.full((t.shape[0], 4), float('inf')), 1, 2, 2, 0), 'step')
    def brute():
        torch.manual_seed(1); table = torch.randn(5, 5, 5).log_softmax(-1)       # scores depend on the last token
        def step(t): return table[t[:, -2] if t.shape[1] > 1 else t[:, -1], t[:, -1]]
        seqs, scores = beam_search(step, 1, 2, 25, 0)
        best = max(((a, b) for a in range(5) for b in range(5)), key=lambda ab: float(table[0, 0, ab[0]] + table[0, ab[0], ab[1]]))
        return seqs, best
    ok('decoding', 'beam_search full beam equals brute force', brute, lambda r: tuple(r[0].reshape(-1, r[0].shape[-1])[0].tolist()[-2:]) == r[1])
    def fewer_children():
        trie = Trie([[1, 2], [1, 3]]); proc = TrieLogitsProcessor(trie, prefix_length=1)
        seqs, scores = beam_search(lambda t: torch.zeros(t.shape[0], 5), 1, 2, 4, 0, processor=proc)
        return seqs, scores
    ok('decoding', 'beam_search 4 beams over 2 valid ids: no invalid, no duplicate', fewer_children,
       lambda r: (lambda rows: len({tuple(x) for x in rows if all(v >= 0 for v in x)}) == sum(all(v >= 0 for v in x) for x in rows) and
                  all(tuple(x[-2:]) in ((1, 2), (1, 3)) for x in rows if all(v >= 0 for v in x)))(r[0].reshape(-1, r[0].shape[-1]).tolist()))

@cases_for('retrieval')
def _retrieval():
    (UnityConfig, UnitySpeechModel, generate, retrieve, DualEncoder, DualTaskDataset, DualTaskCollator, embed_items, id_table, Trie) = api('retrieval',
        'UnityConfig', 'UnitySpeechModel', 'generate', 'retrieve', 'DualEncoder', 'DualTaskDataset', 'DualTaskCollator', 'embed_items', 'id_table', 'Trie')
    M = 8
    cfg = dict(n_mels=M, d_model=16, nhead=2, encoder_layers=1, decoder_layers=1, dropout=0.0, semantic_vocab=4,
               doc_vocab=6, doc_length=4, semantic_length=3, max_frames=64)
    @fixture
    def unity(): return UnitySpeechModel(**cfg).eval()
    x = torch.randn(2, 20, M)
    sem = torch.tensor([[0, 1, 0], [2, 3, 0]]); doc = torch.tensor([[0, 1, 2, 0], [3, 4, 5, 0]])
    err('retrieval', 'UnitySpeechModel NaN at real frame (issue)', lambda: unity()(torch.full((1, 20, M), float('nan')), None, sem[:1], doc[:1]), 'x')
    ok('retrieval', 'UnitySpeechModel float64 (issue)', lambda: unity()(x.double(), None, sem, doc), lambda r: finite(r.loss), names=('x', 'dtype'))
    err('retrieval', 'UnityConfig nhead not dividing d_model', lambda: UnityConfig(**(cfg | dict(nhead=3))), ('nhead', 'd_model'))
    err('retrieval', 'UnityConfig dropout 1.5', lambda: UnityConfig(**(cfg | dict(dropout=1.5))), 'dropout')
    err('retrieval', 'UnityConfig stride 0', lambda: UnityConfig(**(cfg | dict(stride=0))), 'stride')
    err('retrieval', 'UnityConfig label_smoothing 1', lambda: UnityConfig(**(cfg | dict(label_smoothing=1.0))), 'label_smoothing')
    err('retrieval', 'UnityConfig doc_loss_weight NaN', lambda: UnityConfig(**(cfg | dict(doc_loss_weight=float('nan')))), 'doc_loss_weight')
    err('retrieval', 'Unity wrong n_mels', lambda: unity()(torch.randn(1, 20, M + 1), None, sem[:1], doc[:1]), ('x', 'n_mels'))
    err('retrieval', 'Unity too many frames', lambda: unity()(torch.randn(1, 100, M), None, sem[:1], doc[:1]), ('x', 'max_frames'))
    err('retrieval', 'Unity doc id out of vocab', lambda: unity()(x, None, sem, doc + 10), 'doc_ids')
    err('retrieval', 'Unity semantic ids wrong length', lambda: unity()(x, None, sem[:, :1], doc), 'semantic_ids')
    err('retrieval', 'Unity float mask', lambda: unity()(x, torch.ones(2, 20), sem, doc), 'mask')
    err('retrieval', 'Unity all-padded row', lambda: unity()(x, torch.zeros(2, 20, dtype=torch.bool), sem, doc), 'mask')
    err('retrieval', 'Unity ids batch mismatch', lambda: unity()(x, None, sem[:1], doc[:1]), ('semantic_ids', 'doc_ids'))
    ok('retrieval', 'Unity padding invariance', lambda: (unity().encode(torch.cat([x[:1, :10], torch.full((1, 10, M), 7.0)], 1), torch.arange(20)[None] < 10)[0],
                                                          unity().encode(x[:1, :10])[0]), lambda r: close(r[0][:, :r[1].shape[1]], r[1], 1e-4))
    err('retrieval', 'generate num_beams=0', lambda: generate(unity(), x, num_beams=0), 'num_beams')
    ok('retrieval', 'generate empty batch', lambda: generate(unity(), torch.zeros(0, 20, M), num_beams=2), lambda r: r[0].shape[0] == 0, names=('x', 'rows', 'empty'))
    ok('retrieval', 'generate constrained ids valid', lambda: (generate(unity(), x, num_beams=3, trie=Trie(doc.tolist()))[0], doc),
       lambda r: all(tuple(s[-4:]) in {tuple(d) for d in r[1].tolist()} for s in r[0].reshape(-1, r[0].shape[-1]).tolist() if min(s) >= 0))
    err('retrieval', 'retrieve empty queries', lambda: retrieve(unity(), [], id_table(doc[:, :3])), 'queries')
    err('retrieval', 'retrieve wrong-dim query', lambda: retrieve(unity(), [np.zeros((10, M + 1), np.float32)], id_table(doc[:, :3])), ('queries', 'n_mels'))
    err('retrieval', 'retrieve table of another length', lambda: retrieve(unity(), [np.zeros((10, M), np.float32)], id_table(torch.tensor([[0, 1], [2, 3]]))), ('table', 'doc_length'))
    err('retrieval', 'DualTaskDataset crop_frames=0', lambda: DualTaskDataset([torch.randn(30, M)] * 2, id_table(doc[:, :3]), id_table(sem[:, :2]), crop_frames=0), 'crop_frames')
    err('retrieval', 'DualTaskDataset p_index 2', lambda: DualTaskDataset([torch.randn(30, M)] * 2, id_table(doc[:, :3]), id_table(sem[:, :2]), p_index=2.0), 'p_index')
    err('retrieval', 'DualTaskDataset NaN features', lambda: DualTaskDataset([torch.full((30, M), float('nan'))] * 2, id_table(doc[:, :3]), id_table(sem[:, :2])), 'features')
    err('retrieval', 'DualTaskDataset table length mismatch', lambda: DualTaskDataset([torch.randn(30, M)] * 3, id_table(doc[:, :3]), id_table(sem[:, :2])), ('doc_ids', 'semantic_ids'))
    err('retrieval', 'DualEncoder temperature 0', lambda: DualEncoder(UnityConfig(**cfg), temperature=0.0), 'temperature')
    err('retrieval', 'embed_items batch_size 0', lambda: embed_items(DualEncoder(UnityConfig(**cfg)).eval(), [np.zeros((10, M), np.float32)], batch_size=0), 'batch_size')
    err('retrieval', 'embed_items NaN item', lambda: embed_items(DualEncoder(UnityConfig(**cfg)).eval(), [np.full((10, M), np.nan, np.float32)]), 'items')
    saved_file_cases('retrieval', unity, lambda: UnitySpeechModel.load, 'UnitySpeechModel')

# ============================================================================ train
@cases_for('train')
def _train():
    TrainConfig, CheckpointStore, Trainer, SavedModel, load_checkpoint, flat_numbers, metric_key, select_device = api('train', 'TrainConfig',
        'CheckpointStore', 'Trainer', 'SavedModel', 'load_checkpoint', 'flat_numbers', 'metric_key', 'select_device')
    err('train', 'TrainConfig lr=0', lambda: TrainConfig(lr=0.0), 'lr')
    err('train', 'TrainConfig epochs=1.5', lambda: TrainConfig(epochs=1.5), 'epochs')
    err('train', 'TrainConfig schedule unknown', lambda: TrainConfig(schedule='exp'), 'schedule')
    err('train', 'TrainConfig grad_clip NaN', lambda: TrainConfig(grad_clip=float('nan')), 'grad_clip')
    err('train', 'TrainConfig device bogus', lambda: TrainConfig(device='tpu'), 'device')
    err('train', 'TrainConfig amp "yes"', lambda: TrainConfig(amp='yes'), 'amp')
    err('train', 'select_device bogus', lambda: select_device('gpu7'), 'device')
    err('train', 'CheckpointStore keep=0', lambda: CheckpointStore(_TMP/'ck0', keep=0), 'keep')
    err('train', "CheckpointStore.save meta={'step'} collides (issue)", lambda: CheckpointStore(tmpdir('ck1')).save(3, {'w': torch.ones(2)}, meta={'step': 5}), ('meta', 'step'))
    err('train', 'CheckpointStore.save negative step', lambda: CheckpointStore(tmpdir('ck2')).save(-1, {'w': torch.ones(2)}), 'step')
    err('train', 'CheckpointStore.save non-dict state', lambda: CheckpointStore(tmpdir('ck3')).save(1, [torch.ones(2)]), 'state')
    def ck_damage(damage):
        def call():
            s = CheckpointStore(tmpdir(f'ckd-{damage.__name__}'), keep=2); s.save(1, {'w': torch.ones(2)})
            files = [p for p in s.folder.rglob('*') if p.is_file() and p.suffix in ('.pt', '.safetensors', '.pth')]
            if not files: raise NotRun('no checkpoint weights file found')
            for f in files: damage(f)
            return s.load()
        return call
    for dmg in (flip_byte, truncate):
        err('train', f'CheckpointStore.load only checkpoint {dmg.__name__}', ck_damage(dmg), ('checkpoint', 'damaged', 'intact'))
    def ck_fallback():
        s = CheckpointStore(tmpdir('ckf'), keep=2); s.save(1, {'w': torch.ones(2)}); s.save(2, {'w': torch.full((2,), 2.)})
        files = sorted((p for p in s.folder.rglob('*') if p.is_file() and p.suffix in ('.pt', '.safetensors', '.pth')), key=lambda p: p.stat().st_mtime)
        flip_byte(files[-1]); return s.load()
    ok('train', 'CheckpointStore.load falls back past a flipped newest', ck_fallback, lambda r: float(r[0]['w'][0]) == 1.0, names=('checkpoint',))
    def ck_meta_json():
        s = CheckpointStore(tmpdir('ckj'), keep=2); s.save(1, {'w': torch.ones(2)})
        for f in s.folder.rglob('*.json'): non_utf8(f)
        return s.load()
    err('train', 'CheckpointStore.load non-UTF-8 JSON', ck_meta_json, ('checkpoint', '.json', 'intact'))
    err('train', 'load_checkpoint missing folder', lambda: load_checkpoint(_TMP/'no-ck'), ('no-ck', 'checkpoint'))
    class Tiny(torch.nn.Module):
        def __init__(self): super().__init__(); self.l = torch.nn.Linear(2, 1)
        def forward(self, x): return self.l(x)
    data = [torch.randn(2) for _ in range(4)]
    err('train', 'Trainer non-scalar loss (issue)', lambda: Trainer(Tiny(), data, TrainConfig(epochs=1, batch_size=2, progress=False, device='cpu'),
        step_fn=lambda m, b: {'loss': m(b).squeeze(-1)}, run_dir=tmpdir('tr1')).fit(), 'loss')
    err('train', 'Trainer NaN loss', lambda: Trainer(Tiny(), data, TrainConfig(epochs=1, batch_size=2, progress=False, device='cpu'),
        step_fn=lambda m, b: {'loss': m(b).sum() * float('nan')}, run_dir=tmpdir('tr2')).fit(), 'loss')
    err('train', 'Trainer step without loss', lambda: Trainer(Tiny(), data, TrainConfig(epochs=1, batch_size=2, progress=False, device='cpu'),
        step_fn=lambda m, b: {'mse': m(b).sum()}, run_dir=tmpdir('tr3')).fit(), 'loss')
    err('train', 'Trainer empty dataset', lambda: Trainer(Tiny(), [], TrainConfig(epochs=1, batch_size=2, progress=False, device='cpu'), run_dir=tmpdir('tr4')).fit(), ('train_data', 'empty'))
    err('train', 'Trainer non-module model', lambda: Trainer(object(), data, TrainConfig(epochs=1, progress=False)), 'model')
    ok('train', 'flat_numbers nested', lambda: flat_numbers({'a': {'b': 1, 'c': 'x'}, 'd': 2.5}), lambda r: r.get('a/b', r.get('a.b')) == 1 and r['d'] == 2.5)
    err('train', 'SavedModel.load missing folder', lambda: api('pqvae', 'PQVAE').load(_TMP/'nope-model'), ('nope-model', 'folder'))
    def wrong_class():
        PQVAE, Cat = api('pqvae', 'PQVAE'), api('categorical', 'CategoricalVQVAE')
        d = model_dir(PQVAE(input_dim=4, hidden_dim=8, latent_dim=4, num_heads=2, codebook_size=4), 'wrongcls')
        return Cat.load(d)
    err('train', 'SavedModel.load another class', wrong_class, ('folder', 'PQVAE'))
    def edited_config():
        PQVAE = api('pqvae', 'PQVAE')
        d = model_dir(PQVAE(input_dim=4, hidden_dim=8, latent_dim=4, num_heads=2, codebook_size=4), 'editcfg')
        c = json.loads((d/'config.json').read_text()); c['config']['hidden_dim'] = 'sixteen'; (d/'config.json').write_text(json.dumps(c))
        return PQVAE.load(d)
    err('train', 'SavedModel.load mistyped config value', edited_config, ('config.json', 'hidden_dim'))
    def unknown_key():
        PQVAE = api('pqvae', 'PQVAE')
        d = model_dir(PQVAE(input_dim=4, hidden_dim=8, latent_dim=4, num_heads=2, codebook_size=4), 'unkcfg')
        c = json.loads((d/'config.json').read_text()); c['config']['bogus'] = 1; (d/'config.json').write_text(json.dumps(c))
        return PQVAE.load(d)
    err('train', 'SavedModel.load unknown config key', unknown_key, ('config.json', 'bogus'))
    def no_cls():
        PQVAE = api('pqvae', 'PQVAE')
        d = model_dir(PQVAE(input_dim=4, hidden_dim=8, latent_dim=4, num_heads=2, codebook_size=4), 'nocls')
        (d/'config.json').write_text('[]'); return PQVAE.load(d)
    err('train', 'SavedModel.load config.json a list', no_cls, 'config.json')

# ============================================================================ experiment
@cases_for('experiment')
def _experiment():
    resolve, write_metrics, read_metrics, Claim, lookup, claims_table, seeded = api('experiment', 'resolve', 'write_metrics', 'read_metrics',
        'Claim', 'lookup', 'claims_table', 'seeded')
    err('experiment', 'resolve unknown scale', lambda: resolve('huge', tiny={'n': 1}, default={'n': 2}), 'scale')
    err('experiment', 'resolve unknown override', lambda: resolve('tiny', tiny={'n': 1}, default={'n': 2}, m=3), 'm')
    err('experiment', 'resolve override wrong type', lambda: resolve('tiny', tiny={'n': 1}, default={'n': 2}, n='3'), 'n')
    err('experiment', 'resolve float for int override', lambda: resolve('tiny', tiny={'n': 1}, default={'n': 2}, n=2.7), 'n')
    err('experiment', 'write_metrics refuse NaN', lambda: write_metrics(tmpdir('wm'), {'a': float('nan')}, nonfinite='refuse'), 'metrics')
    err('experiment', 'write_metrics non-serialisable', lambda: write_metrics(tmpdir('wm2'), {'a': object()}), ('metrics', 'a'))
    ok('experiment', 'write/read metrics round trip', lambda: read_metrics(write_metrics(tmpdir('wm3'), {'a': 1.5, 'b': {'c': np.float32(2.0)}}).parent),
       lambda r: r == {'a': 1.5, 'b': {'c': 2.0}})
    def rm(content):
        def call():
            d = tmpdir('rm'); (d/'metrics.json').write_bytes(content); return read_metrics(d)
        return call
    err('experiment', 'read_metrics truncated', rm(b'{"a": 1'), 'metrics.json')
    err('experiment', 'read_metrics non-UTF-8', rm(b'{"\xff": 1}'), 'metrics.json')
    err('experiment', 'read_metrics missing', lambda: read_metrics(tmpdir('rm-missing')), 'metrics.json')
    err('experiment', 'lookup missing key', lambda: lookup({'a': {'b': 1}}, 'a.c'), ('a.c', 'key'))
    err('experiment', 'claims_table missing metric', lambda: claims_table([Claim('x', 'nope')], {'a': 1}), 'nope')
    err('experiment', 'seeded negative', lambda: seeded(-1).__enter__(), 'seed')

# ============================================================================ audio
@cases_for('audio')
def _audio():
    (load_audio, save_audio, resample, MelConfig, log_mel, to_mono, FrameGrid, load_encodec, encodec_latents, AudioError) = api('audio',
        'load_audio', 'save_audio', 'resample', 'MelConfig', 'log_mel', 'to_mono', 'FrameGrid', 'load_encodec', 'encodec_latents', 'AudioError')
    err('audio', 'MelConfig f_max above Nyquist (issue)', lambda: MelConfig(sample_rate=16000, f_max=12000.0), 'f_max')
    err('audio', 'MelConfig n_mels=0', lambda: MelConfig(n_mels=0), 'n_mels')
    err('audio', 'MelConfig f_min >= f_max', lambda: MelConfig(f_min=4000.0, f_max=2000.0), ('f_max', 'f_min'))
    err('audio', 'MelConfig frame_rate not dividing', lambda: MelConfig(sample_rate=16000, frame_rate=33), 'frame_rate')
    err('audio', 'MelConfig win_length > n_fft', lambda: MelConfig(win_length=2048, n_fft=1024), 'win_length')
    err('audio', 'MelConfig NaN f_min', lambda: MelConfig(f_min=float('nan')), 'f_min')
    err('audio', 'MelConfig float n_mels', lambda: MelConfig(n_mels=80.5), 'n_mels')
    err('audio', 'log_mel NaN wave', lambda: log_mel(torch.full((16000,), float('nan')), 16000), 'wave')
    ok('audio', 'log_mel at another sample_rate is resampled', lambda: log_mel(torch.zeros(22050), 22050), lambda r: r.shape == (50, 80))
    err('audio', 'log_mel stereo', lambda: log_mel(torch.zeros(2, 16000), 16000), 'wave')
    err('audio', 'log_mel empty wave', lambda: log_mel(torch.zeros(0), 16000), 'wave')
    err('audio', 'log_mel int wave', lambda: log_mel(torch.zeros(16000, dtype=torch.int16), 16000), 'wave')
    ok('audio', 'log_mel float64 wave', lambda: (log_mel(torch.randn(16000, dtype=torch.float64) * 0.1, 16000)), lambda r: finite(r) and r.dtype == torch.float32, names=('wave',))
    ok('audio', 'log_mel frames at 50 fps', lambda: log_mel(torch.randn(16000) * 0.1, 16000), lambda r: 50 in tuple(r.shape))
    ok('audio', 'log_mel silence finite', lambda: log_mel(torch.zeros(16000), 16000), lambda r: finite(r))
    err('audio', 'to_mono 3-D', lambda: to_mono(torch.zeros(1, 2, 100)), 'wave')
    err('audio', 'resample orig_sr=0', lambda: resample(torch.zeros(100), 0, 16000), 'orig_sr')
    err('audio', 'resample NaN', lambda: resample(torch.full((100,), float('nan')), 16000, 8000), 'wave')
    err('audio', 'resample float rate', lambda: resample(torch.zeros(100), 16000.5, 8000), 'orig_sr')
    err('audio', 'FrameGrid hop 0', lambda: FrameGrid(16000, 0), 'hop_length')
    err('audio', 'FrameGrid negative seconds', lambda: FrameGrid(16000, 320).seconds_to_frames(-1.0), 'seconds')
    err('audio', 'FrameGrid NaN seconds', lambda: FrameGrid(16000, 320).seconds_to_frames(float('nan')), 'seconds')
    err('audio', 'FrameGrid negative samples', lambda: FrameGrid(16000, 320).num_frames(-5), 'num_samples')
    err('audio', 'save_audio NaN', lambda: save_audio(tmpdir('sa')/'x.wav', torch.full((100,), float('nan')), 16000), 'wave')
    err('audio', 'save_audio peak > 1 (no clip)', lambda: save_audio(tmpdir('sa')/'x.wav', torch.full((100,), 2.0), 16000), 'wave')
    err('audio', 'save_audio sample_rate 0', lambda: save_audio(tmpdir('sa')/'x.wav', torch.zeros(100), 0), 'sample_rate')
    err('audio', 'save_audio unknown subtype', lambda: save_audio(tmpdir('sa')/'x.wav', torch.zeros(100), 16000, subtype='PCM_99'), 'subtype')
    ok('audio', 'save/load round trip', lambda: (load_audio(save_audio(tmpdir('rt')/'x.wav', torch.linspace(-0.5, 0.5, 1600), 16000))[0], torch.linspace(-0.5, 0.5, 1600)),
       lambda r: close(r[0].flatten(), r[1], 1e-3))
    err('audio', 'load_audio missing', lambda: load_audio(_TMP/'nope.wav'), 'nope.wav')
    def garbage():
        f = tmpdir('ga')/'garbage.wav'; f.write_bytes(b'RIFF' + bytes(range(256)) * 4); return load_audio(f)
    err('audio', 'load_audio garbage', garbage, 'garbage.wav')
    def trunc_wav():
        f = save_audio(tmpdir('tw')/'t.wav', torch.zeros(1600), 16000); truncate(Path(f), 0.02); return load_audio(f)
    err('audio', 'load_audio truncated to header', trunc_wav, 't.wav')
    def empty_wav():
        import soundfile as sf
        f = tmpdir('ew')/'empty.wav'; sf.write(str(f), np.zeros(0, np.float32), 16000); return load_audio(f)
    err('audio', 'load_audio 0 samples', empty_wav, 'empty.wav')
    def nan_wav():
        import soundfile as sf
        f = tmpdir('nw')/'nan.wav'; sf.write(str(f), np.full(100, np.nan, np.float32), 16000, subtype='FLOAT'); return load_audio(f)
    err('audio', 'load_audio NaN samples (float WAV)', nan_wav, 'nan.wav')
    err('audio', 'load_audio sample_rate -1', lambda: load_audio(_TMP/'nope.wav', sample_rate=-1), 'sample_rate')
    err('audio', 'load_encodec missing checkpoint folder', lambda: load_encodec(_TMP/'no-encodec'), ('no-encodec', 'checkpoint'))
    def bad_ckpt():
        d = tmpdir('enc'); (d/'encodec_24khz-d7cc33bc.th').write_bytes(b'not a checkpoint'); return load_encodec(d)
    err('audio', 'load_encodec damaged checkpoint', bad_ckpt, ('encodec_24khz', 'checkpoint', str(_TMP/'enc')))
    ok('audio', 'encodec_latents at 16 kHz is resampled', lambda: encodec_latents(torch.zeros(16000), 16000, load_encodec(untrained=True)), lambda r: r.values.shape == (75, 128))
    err('audio', 'encodec_latents too short', lambda: encodec_latents(torch.zeros(100), 24000, load_encodec(untrained=True)), 'wave')
    err('audio', 'encodec_latents not an encoder', lambda: encodec_latents(torch.zeros(24000), 24000, object()), 'encoder')

# ============================================================================ corpus (and the loaders of built corpora)
CACHE = Path(__file__).resolve().parent.parent/'data'/'cache'
MAIN_CACHE = Path('/work/main/data/cache')

def cached(folder: str) -> Path:
    "A built small corpus to copy (this checkout's cache, else the main checkout's); NotRun if none."
    for root in (CACHE, MAIN_CACHE):
        if (root/folder/'manifest.json').exists(): return root/folder
    raise NotRun(f"no built {folder} in {CACHE} (build it with `vqnb data build ... --size small`)")

def corpus_copy(folder: str, tag: str) -> Path:
    "A private copy of a built corpus under a fresh root; returns the root."
    root = tmpdir(f'root-{tag}'); shutil.copytree(cached(folder), root/folder); return root

def item_files(root: Path, folder: str, suffix='.npz') -> list[Path]:
    files = sorted((root/folder/'items').glob(f'*{suffix}'))
    if len(files) < 2: raise NotRun(f"{folder}: fewer than 2 item {suffix} files")
    return files

@cases_for('corpus')
def _corpus():
    (CorpusStore, read_arrays, build_items, verify_corpus, FeatureStore, FeatureDataset, feature_stats, open_corpus, corpus_dir, CorpusDamaged,
     ItemError, read_manifest) = api('corpus', 'CorpusStore', 'read_arrays', 'build_items', 'verify_corpus', 'FeatureStore', 'FeatureDataset',
        'feature_stats', 'open_corpus', 'corpus_dir', 'CorpusDamaged', 'ItemError', 'read_manifest')
    load_music, load_speech, load_descriptors, load_segments, load_text = (api('music', 'load_music'), api('speech', 'load_speech'),
        api('descriptors', 'load_descriptors'), api('descriptors', 'load_segments'), api('text', 'load_text'))
    err('corpus', 'corpus_dir unknown size', lambda: corpus_dir('speech', 'huge'), 'size')
    err('corpus', 'corpus_dir negative seed', lambda: corpus_dir('speech', 'small', -1), 'seed')
    err('corpus', 'corpus_dir name with a slash', lambda: corpus_dir('../speech', 'small'), 'name')
    err('corpus', 'open_corpus unknown name', lambda: open_corpus('nope-corpus', root=tmpdir('oc')), 'nope-corpus')
    err('corpus', 'open_corpus empty name', lambda: open_corpus('', root=tmpdir('oc2')), 'name')
    # the store, item by item
    def store(tag): return CorpusStore('adv', 'small', 0, {}, folder=tmpdir(f'store-{tag}'))
    err('corpus', 'put object array', lambda: store('obj').put('a', {}, x=np.array([{}, 1], dtype=object)), ('x', 'array'))
    def remade(damage):
        def call():
            s = store(f'remake-{damage.__name__}'); s.put('a', {'n': 1}, x=np.arange(5.)); damage(s._path('a', 'npz')) if hasattr(s, '_path') else None
            made = []
            build_items(s, ['a'], lambda k: (made.append(k), ({'n': 1}, {'x': np.arange(5.)}))[1], progress=False)
            return made, s.arrays('a')
        return call
    ok('corpus', 'rebuild remakes an item with a flipped byte (issue)', remade(flip_byte), lambda r: r[0] == ['a'] and r[1]['x'].tolist() == list(range(5)))
    ok('corpus', 'rebuild remakes a truncated item', remade(truncate), lambda r: r[0] == ['a'] and r[1]['x'].tolist() == list(range(5)))
    def unreadable_done():
        s = store('unreadable')
        def make(k):
            if k == 'b': raise ItemError('b: no audio')
            return {'n': 1}, {'x': np.arange(3.)}
        build_items(s, ['a', 'b'], make, progress=False)
        (s.items_dir/'a.npz').write_bytes(b'PK\x03\x04 not a zip at all')        # unreadable, size changed
        made = []
        build_items(s, ['a', 'b'], lambda k: (made.append(k), make(k))[1], progress=False)
        return made
    ok('corpus', 'rebuild remakes an unreadable item, keeps a failed one failed', unreadable_done, lambda r: r == ['a'])
    def swapped():
        s = store('swap'); s.put('a', {}, x=np.arange(5.)); s.put('b', {}, x=np.arange(5.) + 10)
        pa, pb = s.items_dir/'a.npz', s.items_dir/'b.npz'; da, db = pa.read_bytes(), pb.read_bytes(); pa.write_bytes(db); pb.write_bytes(da)
        return read_arrays(pa)
    err('corpus', 'read_arrays same-size swapped item', swapped, 'a.npz')
    def flipped_read():
        s = store('flipread'); s.put('a', {}, x=np.arange(50.)); flip_byte(s.items_dir/'a.npz', 0.6); return read_arrays(s.items_dir/'a.npz')
    err('corpus', 'read_arrays flipped byte', flipped_read, 'a.npz')
    err('corpus', 'read_arrays missing file', lambda: read_arrays(_TMP/'nope.npz'), 'nope.npz')
    # FeatureStore
    def fs(tag):
        f = FeatureStore(tmpdir(f'fs-{tag}')/'feat.bin', 3); c = f.append(np.ones((4, 3), np.float32)); return f, c
    err('corpus', 'FeatureStore append NaN', lambda: fs('nan')[0].append(np.full((2, 3), np.nan)), 'x')
    err('corpus', 'FeatureStore append beyond float16', lambda: fs('big')[0].append(np.full((2, 3), 1e6)), 'x')
    err('corpus', 'FeatureStore append wrong width', lambda: fs('w')[0].append(np.ones((2, 4))), 'x')
    err('corpus', 'FeatureStore dim 0', lambda: FeatureStore(_TMP/'x.bin', 0), 'dim')
    def fs_flip():
        f, c = fs('flip'); flip_byte(f.path, 0.5); return FeatureStore(f.path, 3).read(c)
    err('corpus', 'FeatureStore read flipped byte', fs_flip, 'feat.bin')
    def fs_trunc():
        f, c = fs('trunc'); truncate(f.path, 0.5); return FeatureStore(f.path, 3).read(c)
    err('corpus', 'FeatureStore read truncated', fs_trunc, 'feat.bin')
    err('corpus', 'FeatureStore read bad chunk', lambda: fs('chunk')[0].read({'offset': 0}), 'chunk')
    err('corpus', 'FeatureStore read chunk of another width', lambda: FeatureStore(fs('width')[0].path, 2).read(fs('width2')[1]), ('feat.bin', 'chunk'))
    # FeatureDataset / feature_stats
    items = [np.random.randn(5, 3).astype(np.float32) for _ in range(3)]
    err('corpus', 'FeatureDataset std with a zero', lambda: FeatureDataset(items.__getitem__, [0, 1], std=np.array([1., 0., 1.]))[0], 'std')
    err('corpus', 'FeatureDataset mean of wrong width', lambda: FeatureDataset(items.__getitem__, [0, 1], mean=np.zeros(4), std=np.ones(4))[0], 'mean')
    err('corpus', 'FeatureDataset NaN mean', lambda: FeatureDataset(items.__getitem__, [0, 1], mean=np.array([np.nan, 0, 0]), std=np.ones(3))[0], 'mean')
    err('corpus', 'FeatureDataset max_frames=0', lambda: FeatureDataset(items.__getitem__, [0, 1], max_frames=0), 'max_frames')
    err('corpus', 'FeatureDataset mean without std', lambda: FeatureDataset(items.__getitem__, [0, 1], mean=np.zeros(3))[0], ('std', 'mean'))
    ok('corpus', 'FeatureDataset standardises (brute force)', lambda: (FeatureDataset(items.__getitem__, [1], mean=np.ones(3), std=np.full(3, 2.))[0], torch.tensor((items[1] - 1) / 2)),
       lambda r: close(*r))
    err('corpus', 'feature_stats NaN item', lambda: feature_stats(lambda i: np.full((4, 3), np.nan), [0, 1]), ('indices', 'nan', 'finite'))
    err('corpus', 'feature_stats max_frames=0', lambda: feature_stats(items.__getitem__, [0, 1], max_frames=0), ('max_frames', 'indices'))
    ok('corpus', 'feature_stats brute force', lambda: (feature_stats(items.__getitem__, [0, 2]), np.concatenate([items[0], items[2]]).astype(np.float64)),
       lambda r: close(r[0][0], r[1].mean(0), 1e-5) and close(r[0][1], r[1].std(0, ddof=1) + 1e-5, 1e-4))
    # built corpora: damaged files at load
    loaders = dict(music=('music-small-seed0', lambda root: load_music('small', 0, root=root), lambda c: c.arrays(c.clips[0]['id'])),
                   speech=('speech-small-seed0', lambda root: load_speech('small', 0, root=root), lambda c: c.features(0)),
                   descriptors=('descriptors-small-seed0', lambda root: load_descriptors('small', 0, root=root), None),
                   segments=('segments-small-seed0', lambda root: load_segments('small', 0, root=root), None),
                   text=('text-small-seed0', lambda root: load_text('small', 0, root=root), None))
    for kind, (folder, load, read) in loaders.items():
        def use(root, load=load, read=read):
            c = load(root)
            if read is not None: read(c)
            return c
        def manifest(damage, folder=folder, use=use, kind=kind):
            def call():
                root = corpus_copy(folder, f'{kind}-m-{damage.__name__}'); damage(root/folder/'manifest.json'); return use(root)
            return call
        err('corpus', f'load {kind}: manifest.json non-UTF-8', manifest(non_utf8), 'manifest.json')
        err('corpus', f'load {kind}: manifest.json truncated', manifest(truncate), 'manifest.json')
        def data_file(damage, which, folder=folder, use=use, kind=kind):
            def call():
                root = corpus_copy(folder, f'{kind}-{which}-{damage.__name__}')
                files = sorted(p for p in (root/folder).rglob('*') if p.is_file() and p.suffix in ('.npz', '.bin', '.parquet', '.npy'))
                if not files: raise NotRun(f'{folder}: no data file beside its manifest')
                f = files[0] if which == 'first' else files[-1]
                damage(f); return use(root)
            return call
        if kind == 'descriptors': continue          # its data lives in manifest.json (its csv is an export, never read)
        for dmg in (flip_byte, truncate):
            err('corpus', f'load {kind}: first data file {dmg.__name__}', data_file(dmg, 'first'), ('damaged', 'differs', 'truncated', 'unreadable', 'sha256'))
        def swap(folder=folder, use=use, kind=kind):
            root = corpus_copy(folder, f'{kind}-swap')
            files = sorted(p for p in (root/folder).rglob('*') if p.is_file() and p.suffix in ('.npz', '.bin', '.parquet', '.npy'))
            if not files: raise NotRun(f'{folder}: no data file beside its manifest')
            by_size = {}
            for p in files: by_size.setdefault(p.stat().st_size, []).append(p)
            pair = next((v for v in by_size.values() if len(v) >= 2), None)
            if pair is None:                                    # no two files of one size: swap the bytes of one file's halves
                f = files[0]; b = f.read_bytes(); h = len(b) // 2; f.write_bytes(b[h:2 * h] + b[:h] + b[2 * h:])
            else:
                a, b = pair[0].read_bytes(), pair[1].read_bytes(); pair[0].write_bytes(b); pair[1].write_bytes(a)
            c = use(root)
            return c
        err('corpus', f'load {kind}: same-size swapped data files', swap, ('damaged', 'differs', 'sha256', 'swapped'))
    def refinish(root: Path, folder: str):
        "Write the manifest of a copied corpus again through CorpusStore.finish (as the next build does): it records its checksum."
        m = json.loads((root/folder/'manifest.json').read_text())
        std = {'name', 'size', 'seed', 'params', 'n_items', 'failures', 'item_keys', 'files', 'chunks', 'items', 'sha256'}
        CorpusStore(m['name'], m['size'], m['seed'], m['params'], root=root).finish(
            m['item_keys'] + [f['key'] for f in m['failures']], **{k: v for k, v in m.items() if k not in std})
    def manifest_digit(folder, load, tag):
        def call():
            root = corpus_copy(folder, f'digit-{tag}'); refinish(root, folder); f = root/folder/'manifest.json'; t = f.read_text()
            m = re.search(r'"items": \[.*?(\d)\.(\d)', t, re.S)
            if not m: raise NotRun('no number among the manifest items')
            i = m.start(2); f.write_text(t[:i] + str((int(t[i]) + 5) % 10) + t[i + 1:])      # same size, still valid JSON
            return load(root)
        return call
    err('corpus', 'load descriptors: a digit of manifest.json changed (the data lives there)', manifest_digit('descriptors-small-seed0', lambda root: load_descriptors('small', 0, root=root), 'desc'),
        ('manifest.json',))
    def verify_flipped():
        root = corpus_copy('music-small-seed0', 'verify'); flip_byte(item_files(root, 'music-small-seed0')[0])
        return verify_corpus('music', 'small', 0, root=root)
    ok('corpus', 'verify_corpus reports a flipped item', verify_flipped, lambda r: not r.get('ok', True) and r.get('damaged'))
    err('corpus', 'read_manifest of a missing corpus', lambda: read_manifest('music', 'small', 0, root=tmpdir('rm-none')), ('music', 'build'))

# ============================================================================ descriptors / music / speech / text
@cases_for('descriptors')
def _descriptors():
    describe, segment_starts, describe_segments = api('descriptors', 'describe', 'segment_starts', 'describe_segments')
    err('descriptors', 'segment_starts width 0 (issue)', lambda: segment_starts(100, 0, 10), 'width')
    err('descriptors', 'segment_starts step 0', lambda: segment_starts(100, 10, 0), 'step')
    err('descriptors', 'segment_starts negative frames', lambda: segment_starts(-5, 10, 5), 'n_frames')
    err('descriptors', 'segment_starts float width', lambda: segment_starts(100, 10.5, 5), 'width')
    ok('descriptors', 'segment_starts brute force', lambda: segment_starts(100, 10, 30), lambda r: list(r) == [s for s in range(0, 91, 30)] or list(r) == [0, 30, 60, 90])
    ok('descriptors', 'segment_starts shorter than one segment', lambda: segment_starts(5, 10, 5), lambda r: len(r) in (0, 1), names=('n_frames',))
    err('descriptors', 'describe NaN wave', lambda: describe(np.full(22050, np.nan, np.float32), 22050), 'wave')
    err('descriptors', 'describe empty wave', lambda: describe(np.zeros(0, np.float32), 22050), 'wave')
    err('descriptors', 'describe sample_rate 0', lambda: describe(np.zeros(22050, np.float32), 0), 'sample_rate')
    err('descriptors', 'describe stereo', lambda: describe(np.zeros((2, 22050), np.float32), 22050), 'wave')
    ok('descriptors', 'describe silence finite', lambda: describe(np.zeros(22050, np.float32), 22050), lambda r: all(np.isfinite(v) for v in r.values()))
    ok('descriptors', 'describe float64 wave', lambda: describe(np.random.RandomState(0).randn(22050) * 0.1, 22050), lambda r: all(np.isfinite(v) for v in r.values()), names=('wave',))
    err('descriptors', 'describe_segments seconds 0', lambda: describe_segments(np.zeros(22050, np.float32), 22050, seconds=0.0), 'seconds')
    err('descriptors', 'describe_segments step 0', lambda: describe_segments(np.zeros(22050, np.float32), 22050, step=0.0), 'step')
    err('descriptors', 'describe_segments NaN step', lambda: describe_segments(np.zeros(22050, np.float32), 22050, step=float('nan')), 'step')

@cases_for('music')
def _music():
    compose, plant, chroma, render, to_midi, Note, Song = api('music', 'compose', 'plant', 'chroma', 'render', 'to_midi', 'Note', 'Song')
    rng = lambda: np.random.default_rng(0)
    err('music', 'compose seconds 0', lambda: compose(rng(), seconds=0.0), 'seconds')
    err('music', 'compose bars_per_section 0', lambda: compose(rng(), bars_per_section=0), 'bars_per_section')
    err('music', 'compose not a Generator', lambda: compose(0), 'rng')
    err('music', 'compose NaN seconds', lambda: compose(rng(), seconds=float('nan')), 'seconds')
    err('music', 'plant ratio 0', lambda: plant(compose(rng()), compose(np.random.default_rng(1)), 0, 0.0, 0.0), 'ratio')
    err('music', 'plant ratio NaN', lambda: plant(compose(rng()), compose(np.random.default_rng(1)), 0, 0.0, float('nan')), 'ratio')
    err('music', 'plant src_bar beyond song', lambda: plant(compose(rng()), compose(np.random.default_rng(1)), 999, 0.0, 1.0), 'src_bar')
    err('music', 'plant negative dst_beat', lambda: plant(compose(rng()), compose(np.random.default_rng(1)), 0, -4.0, 1.0), 'dst_beat')
    err('music', 'plant transpose 100', lambda: plant(compose(rng()), compose(np.random.default_rng(1)), 0, 0.0, 1.0, transpose=100), 'transpose')
    err('music', 'plant transpose float', lambda: plant(compose(rng()), compose(np.random.default_rng(1)), 0, 0.0, 1.0, transpose=1.5), 'transpose')
    err('music', 'chroma NaN wave', lambda: chroma(torch.full((24000,), float('nan'))), 'wave')
    err('music', 'chroma frames 0', lambda: chroma(torch.zeros(24000), frames=0), 'frames')
    err('music', 'chroma empty wave', lambda: chroma(torch.zeros(0)), 'wave')
    ok('music', 'chroma silence finite', lambda: chroma(torch.zeros(24000)), lambda r: finite(r))
    ok('music', 'chroma of an A is strongest at A', lambda: chroma(torch.sin(2 * math.pi * 440 * torch.arange(24000) / 24000) * 0.5, frames=10),
       lambda r: int(torch.as_tensor(r).float().mean(-1 if torch.as_tensor(r).shape[0] == 12 else 0).argmax()) == 9)
    err('music', 'Note pitch 200', lambda: Note(0.0, 1.0, 200, 80, 'lead'), 'pitch')
    err('music', 'Note negative dur', lambda: Note(0.0, -1.0, 60, 80, 'lead'), 'dur')
    err('music', 'Note velocity 300', lambda: Note(0.0, 1.0, 60, 300, 'lead'), 'velocity')
    err('music', 'Song tempo 0', lambda: Song(0, 0, 'major', {}, [], 4), 'tempo_bpm')
    err('music', 'Song unknown mode', lambda: Song(120, 0, 'lydian-x', {}, [], 4), 'mode')
    err('music', 'render seconds 0', lambda: render(compose(rng(), seconds=2.0), seconds=0.0), 'seconds')
    err('music', 'render missing soundfont', lambda: render(compose(rng(), seconds=2.0), seconds=2.0, soundfont=_TMP/'none.sf2'), 'none.sf2')
    err('music', 'to_midi ticks_per_beat 0', lambda: to_midi(compose(rng(), seconds=2.0), tmpdir('midi')/'x.mid', ticks_per_beat=0), 'ticks_per_beat')

@cases_for('speech')
def _speech():
    first_words, speak = api('speech', 'first_words', 'speak')
    err('speech', 'first_words max_words 0', lambda: first_words('a b c', 0), 'max_words')
    err('speech', 'first_words max_words -1', lambda: first_words('a b c', -1), 'max_words')
    err('speech', 'first_words float max_words', lambda: first_words('a b c', 1.5), 'max_words')
    ok('speech', 'first_words brute force', lambda: first_words('one two  three four', 2), lambda r: r.split() == ['one', 'two'])
    ok('speech', 'first_words None keeps all', lambda: first_words('one two three', None), lambda r: r.split() == ['one', 'two', 'three'])
    err('speech', 'speak empty text', lambda: speak('', tmpdir('sp')/'x.wav'), 'text')
    err('speech', 'speak whitespace text', lambda: speak('   \n', tmpdir('sp2')/'x.wav'), 'text')
    err('speech', 'speak unknown voice', lambda: speak('hello', tmpdir('sp3')/'x.wav', voice='xx-nope'), 'voice')
    err('speech', 'speak speed 0', lambda: speak('hello', tmpdir('sp4')/'x.wav', speed=0), 'speed')
    err('speech', 'speak pitch 500', lambda: speak('hello', tmpdir('sp5')/'x.wav', pitch=500), 'pitch')
    err('speech', 'speak text starting with a dash (option injection)', lambda: speak('--help', tmpdir('sp6')/'x.wav'), ('text',), check=lambda r: Path(r).exists() and Path(r).stat().st_size > 1000)

@cases_for('text')
def _text():
    read_fortunes, select_texts = api('text', 'read_fortunes', 'select_texts')
    err('text', 'read_fortunes missing folder', lambda: read_fortunes(_TMP/'no-fortunes'), 'no-fortunes')
    err('text', 'read_fortunes min_chars > max_chars', lambda: read_fortunes(min_chars=500, max_chars=100), ('min_chars', 'max_chars'))
    err('text', 'read_fortunes min_chars negative', lambda: read_fortunes(min_chars=-1), 'min_chars')
    def non_utf8_fortunes():
        d = tmpdir('fort'); (d/'cat').write_bytes(b'a fine fortune text of enough length\n%\n\xff\xfe broken bytes in a fortune of length\n%\n'); return read_fortunes(d)
    ok('text', 'read_fortunes non-UTF-8 file', non_utf8_fortunes, lambda r: len(r) >= 1, names=('cat',))
    def empty_fortunes():
        d = tmpdir('fort2'); (d/'cat').write_text(''); return read_fortunes(d)
    err('text', 'read_fortunes folder without texts', empty_fortunes, ('folder', 'fort2', 'no texts'))
    err('text', 'select_texts unknown size', lambda: select_texts('huge'), 'size')
    err('text', 'select_texts negative seed', lambda: select_texts('small', -1), 'seed')

# ============================================================================ imports
@cases_for('imports')
def _imports():
    import_table, import_text, import_speech, import_music, load_imported, audio_files, verify_import = api('imports', 'import_table', 'import_text',
        'import_speech', 'import_music', 'load_imported', 'audio_files', 'verify_import')
    def csv(tag, text: bytes):
        d = tmpdir(f'csv-{tag}'); f = d/'t.csv'; f.write_bytes(text); return f, tmpdir(f'csvroot-{tag}')
    good = b'id,group,a,b\nr1,g1,1.0,2.0\nr2,g1,3.0,4.0\nr3,g2,5.0,6.5\nr4,g2,1.5,0.5\n'
    def it(tag, text, **kw):
        def call():
            f, root = csv(tag, text); return import_table('t', csv=f, root=root, progress=False, **kw)
        return call
    ok('imports', 'import_table good csv', it('good', good, id_column='id', group_column='group'), lambda r: len(r.frame) == 4)
    err('imports', 'import_table non-UTF-8 csv', it('enc', b'id,a\n\xff\xfe,1\nx,2\n', id_column='id'), 't.csv')
    # a row with NaN / inf, or a column that is not numeric, is left out and reported (manifest 'unusable'), by design
    ok('imports', 'import_table NaN feature: row left out and reported', it('nan', b'id,a,b\nr1,1.0,nan\nr2,2.0,3.0\n', id_column='id'),
       lambda r: len(r.frame) == 1 and any('NaN' in u['reason'] for u in r.manifest['unusable']))
    ok('imports', 'import_table inf feature: row left out and reported', it('inf', b'id,a,b\nr1,1.0,inf\nr2,2.0,3.0\n', id_column='id'),
       lambda r: len(r.frame) == 1 and any('inf' in u['reason'] for u in r.manifest['unusable']))
    err('imports', 'import_table every row NaN', it('allnan', b'id,a\nr1,nan\nr2,nan\n', id_column='id'), ('t.csv',))
    ok('imports', 'import_table text column: left out and reported', it('txt', b'id,a,b\nr1,1.0,x\nr2,2.0,y\n', id_column='id'),
       lambda r: list(r.features.columns) == ['a'] and any('not numeric' in u['reason'] for u in r.manifest['unusable']))
    err('imports', 'import_table missing id column', it('noid', good, id_column='nope'), ('id_column', 'nope'))
    err('imports', 'import_table duplicate ids', it('dup', b'id,a\nr1,1.0\nr1,2.0\n', id_column='id'), 'id_column')
    err('imports', 'import_table header only', it('hdr', b'id,a,b\n', id_column='id'), ('t.csv', 'rows'))
    ok('imports', 'import_table one row', it('one', b'id,a,b\nr1,1.0,2.0\n', id_column='id'), lambda r: len(r.frame) == 1)
    err('imports', 'import_table no feature column', it('nofeat', b'id,group\nr1,g\nr2,g\n', id_column='id', group_column='group'), ('t.csv', 'column'))
    err('imports', 'import_table both csv and parquet', lambda: import_table('t', csv=_TMP/'a.csv', parquet=_TMP/'a.parquet', root=tmpdir('bothroot')), ('csv', 'parquet'))
    err('imports', 'import_table missing csv', lambda: import_table('t', csv=_TMP/'nope.csv', root=tmpdir('missroot')), 'nope.csv')
    err('imports', 'import_table bad name', lambda: import_table('../evil', csv=csv('name', good)[0], root=tmpdir('nameroot')), 'name')
    err('imports', 'import_table name of a built corpus', lambda: import_table('speech', csv=csv('built', good)[0], root=tmpdir('builtroot')), 'name')
    def parquet_damaged():
        import pandas as pd
        d = tmpdir('pq'); f = d/'t.parquet'; pd.DataFrame({'id': ['a', 'b', 'c'], 'x': [1.0, 2.0, 3.0]}).to_parquet(f); truncate(f, 0.5)
        return import_table('t', parquet=f, id_column='id', root=tmpdir('pqroot'), progress=False)
    err('imports', 'import_table truncated parquet', parquet_damaged, 't.parquet')
    def imported_damaged(damage):
        def call():
            f, root = csv(f'dmg-{damage.__name__}', good); t = import_table('t', csv=f, root=root, id_column='id', progress=False)
            files = sorted(p for p in Path(t.dir).rglob('*') if p.is_file() and p.suffix in ('.parquet', '.npz', '.csv', '.npy'))
            if not files: raise NotRun('imported table has no data file')
            damage(files[0]); return load_imported(t.dir).frame
        return call
    err('imports', 'load_imported table flipped byte', imported_damaged(flip_byte), ('damaged', 'differs', 'sha256', 'unreadable'))
    err('imports', 'load_imported table truncated', imported_damaged(truncate), ('damaged', 'differs', 'truncated', 'unreadable'))
    def spec_damaged():
        f, root = csv('spec', good); t = import_table('t', csv=f, root=root, id_column='id', progress=False)
        non_utf8(Path(t.dir)/'spec.json'); return api('corpus', 'open_corpus')('t', root=root)
    err('imports', 'open_corpus of an import with a non-UTF-8 spec.json', spec_damaged, 'spec.json')
    def manifest_changed():
        f, root = csv('mchg', good); t = import_table('t', csv=f, root=root, id_column='id', progress=False)
        mf = Path(t.dir)/'manifest.json'; mf.write_text(mf.read_text().replace('"a"', '"z"', 1)); return load_imported(t.dir).frame
    err('imports', 'load_imported: a column name changed in manifest.json', manifest_changed, 'manifest.json')
    err('imports', 'load_imported missing folder', lambda: load_imported(_TMP/'no-import'), 'no-import')
    def emb(tag, arr):
        d = tmpdir(f'emb-{tag}'); f = d/'e.npy'; np.save(f, arr); return f, tmpdir(f'embroot-{tag}')
    def itext(tag, arr, **kw):
        def call():
            f, root = emb(tag, arr); return import_text('t', embeddings=f, root=root, progress=False, **kw)
        return call
    ok('imports', 'import_text good embeddings', itext('good', np.random.randn(10, 4).astype(np.float32)), lambda r: r.embeddings.shape == (10, 4))
    err('imports', 'import_text NaN embeddings', itext('nan', np.full((10, 4), np.nan, np.float32)), ('embeddings', 'e.npy'))
    err('imports', 'import_text 1-D embeddings', itext('1d', np.zeros(10, np.float32)), ('embeddings', 'e.npy'))
    ok('imports', 'import_text one embedding', itext('one', np.ones((1, 4), np.float32)), lambda r: r.embeddings.shape == (1, 4))
    err('imports', 'import_text integer embeddings', itext('int', np.ones((10, 4), np.int64)), ('embeddings', 'e.npy'), check=lambda r: r.embeddings.dtype == np.float32)
    def obj_npy():
        d = tmpdir('objnpy'); f = d/'e.npy'; np.save(f, np.array([{}, 1], dtype=object), allow_pickle=True)
        return import_text('t', embeddings=f, root=tmpdir('objroot'), progress=False)
    err('imports', 'import_text pickled npy (refused, no pickle)', obj_npy, 'e.npy')
    def trunc_npy():
        f, root = emb('trunc', np.random.randn(10, 4).astype(np.float32)); truncate(f, 0.7)
        return import_text('t', embeddings=f, root=root, progress=False)
    err('imports', 'import_text truncated npy', trunc_npy, 'e.npy')
    def texts_mismatch():
        f, root = emb('tm', np.random.randn(3, 4).astype(np.float32)); t = f.parent/'t.txt'; t.write_text('a\nb\n')
        return import_text('t', embeddings=f, texts=t, root=root, progress=False)
    err('imports', 'import_text texts count mismatch', texts_mismatch, 'texts')
    err('imports', 'import_speech neither source', lambda: import_speech('s', root=tmpdir('sproot')), ('librispeech', 'folder'))
    err('imports', 'import_speech empty folder', lambda: import_speech('s', folder=tmpdir('spempty'), root=tmpdir('sproot2'), progress=False), ('folder', 'spempty'))
    def speech_garbage():
        d = tmpdir('spgarb'); (d/'a.wav').write_bytes(b'RIFF garbage'); (d/'b.flac').write_bytes(b'fLaC garbage')
        return import_speech('s', folder=d, root=tmpdir('sproot3'), progress=False)
    err('imports', 'import_speech only unreadable audio', speech_garbage, ('a.wav', 'b.flac', 'no usable', 'folder'))
    err('imports', 'import_music missing folder', lambda: import_music('m', _TMP/'no-music', root=tmpdir('mroot')), 'no-music')
    def music_pairs_bad():
        d = tmpdir('mpairs'); p = d/'pairs.csv'; p.write_bytes(b'\xff\xfe garbage')
        return import_music('m', d, pairs=p, root=tmpdir('mroot2'), progress=False)
    err('imports', 'import_music non-UTF-8 pairs file', music_pairs_bad, ('pairs', 'pairs.csv', 'folder'))
    err('imports', 'audio_files missing folder', lambda: audio_files(_TMP/'no-audio'), ('folder', 'no-audio'))
    err('imports', 'verify_import unknown name', lambda: verify_import('nope', root=tmpdir('viroot')), 'nope', check=lambda r: not r.get('ok'))
# ============================================================================ runner / cli
TOY_NB = {
 "cells": [
  {"cell_type": "code", "execution_count": None, "id": "p1", "metadata": {"tags": ["parameters"]}, "outputs": [],
   "source": "scale = 'tiny'\nn = 1                 # an int\nnames = ['a']         # a list\ncounts = None         # swept counts (a tuple)\nlr = 0.1\nrun_dir = None\n"},
  {"cell_type": "code", "execution_count": None, "id": "p2", "metadata": {}, "outputs": [],
   "source": "import json, pathlib\npathlib.Path(run_dir, 'seen.json').write_text(json.dumps(dict(n=[type(n).__name__, n], names=[type(names).__name__, names], counts=[type(counts).__name__, counts if counts is None or isinstance(counts, (int, float, str)) else list(counts)], lr=[type(lr).__name__, lr])))\n"}],
 "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}, "language_info": {"name": "python"}},
 "nbformat": 4, "nbformat_minor": 5}

@contextlib.contextmanager
def toy_experiments():
    "A folder holding one toy experiment ('toy': parameters n int, names list, counts None / tuple, lr float) as $VQNB_EXPERIMENTS_DIR."
    d = _TMP/'toy-experiments'
    if not d.exists():
        d.mkdir(parents=True); (d/'toy.ipynb').write_text(json.dumps(TOY_NB))
    old = os.environ.get('VQNB_EXPERIMENTS_DIR'); os.environ['VQNB_EXPERIMENTS_DIR'] = str(d)
    try: yield d
    finally:
        if old is None: os.environ.pop('VQNB_EXPERIMENTS_DIR', None)
        else: os.environ['VQNB_EXPERIMENTS_DIR'] = old

def with_toy(fn):
    def call():
        with toy_experiments(): return fn()
    return call

@cases_for('runner')
def _runner():
    parse_parameters, run_experiment, read_status, open_run, list_runs, experiment_parameters, ExperimentError = api('runner', 'parse_parameters',
        'run_experiment', 'read_status', 'open_run', 'list_runs', 'experiment_parameters', 'ExperimentError')
    P = lambda pairs: with_toy(lambda: parse_parameters('toy', pairs))
    # the issue's runner parameters
    err('runner', '-p n=1 -p n=2 (issue)', P(['n=1', 'n=2']), 'n')
    err('runner', 'float for an int parameter (issue)', P(['n=1.5']), 'n')
    err('runner', 'list parameter given a string (issue)', P(['names=abc']), 'names')
    ok('runner', "-p counts=(0,1) parsed as a tuple/list (issue)", P(['counts=(0,1)']), lambda r: list(r['counts']) == [0, 1])
    ok('runner', "counts='(0,1)' given as a string in a dict (issue)", P({'counts': '(0,1)'}), lambda r: list(r['counts']) == [0, 1], names=('counts',))
    err('runner', 'dict: float for an int', P({'n': 2.5}), 'n')
    err('runner', 'dict: bool for an int', P({'n': True}), 'n')
    err('runner', 'dict: string for a list', P({'names': 'abc'}), 'names')
    err('runner', 'unknown parameter', P(['zz=1']), 'zz')
    err('runner', 'no = sign', P(['n']), 'n')
    err('runner', 'empty value for an int', P(['n=']), 'n')
    err('runner', 'lr=nan', P(['lr=nan']), 'lr')
    err('runner', "lr=float('inf') string", P(['lr=1e999']), 'lr')
    err('runner', 'scale unknown', P(['scale=huge']), 'scale')
    err('runner', 'run_dir set by hand', P(['run_dir=/tmp/x']), 'run_dir')
    ok('runner', 'int given for a float', P(['lr=1']), lambda r: r['lr'] == 1.0 and isinstance(r['lr'], float))
    err('runner', 'unknown experiment', with_toy(lambda: parse_parameters('nope', ['n=1'])), 'nope')
    def seen(params, tag):
        def call():
            with toy_experiments():
                run = run_experiment('toy', params, runs=tmpdir(f'runs-{tag}'), progress=False, stream=False)
                return json.loads((Path(run)/'seen.json').read_text())
        return call
    ok('runner', "run: -p counts=(0,1) reaches the notebook as numbers (issue: papermill sends a tuple as a string)", seen(['counts=(0,1)'], 'tuple'),
       lambda r: r['counts'][0] in ('list', 'tuple') and r['counts'][1] == [0, 1], timeout=120)
    ok('runner', 'run: -p names=[1,2] reaches the notebook as a list', seen(['names=["x","y"]'], 'list'), lambda r: r['names'] == ['list', ['x', 'y']], timeout=120)
    def resume_with(status, tag):
        def call():
            with toy_experiments():
                d = tmpdir(f'res-{tag}')/'toy'/'20260101-000000-000000'; d.mkdir(parents=True)
                (d/'status.json').write_text(json.dumps(status) if isinstance(status, dict) else status)
                return run_experiment('toy', resume=d, progress=False, stream=False)
        return call
    base = dict(experiment='toy', status='failed', parameters={'scale': 'tiny', 'n': 1})
    err('runner', 'resume: status.json with an unknown parameter (issue)', resume_with(base | dict(parameters={'scale': 'tiny', 'zz': 3}), 'unk'), ('zz', 'status.json'))
    err('runner', 'resume: status.json with a mistyped parameter (issue)', resume_with(base | dict(parameters={'scale': 'tiny', 'n': 'two'}), 'typ'), ('n', 'status.json'))
    err('runner', 'resume: status.json non-UTF-8', resume_with('{"\udcff', 'enc') if False else resume_with(b'x'.decode() + '{"status": "fa', 'trunc'), ('status.json',))
    err('runner', 'resume: a run of another experiment', resume_with(base | dict(experiment='other'), 'other'), ('other', 'resume'))
    err('runner', 'resume: parameters not a dict', resume_with(base | dict(parameters=[1, 2]), 'list'), ('status.json', 'resume'))
    err('runner', 'resume: missing folder', with_toy(lambda: run_experiment('toy', resume=_TMP/'no-run', progress=False)), ('no-run', 'resume'))
    def status_file(content: bytes):
        def call():
            d = tmpdir('st'); (d/'status.json').write_bytes(content); return read_status(d)
        return call
    ok('runner', 'read_status non-UTF-8 -> damaged', status_file(b'{"\xff": 1}'), lambda r: r['status'] == 'damaged')
    ok('runner', 'read_status truncated -> damaged', status_file(b'{"status": "do'), lambda r: r['status'] == 'damaged')
    ok('runner', 'read_status status a number -> damaged', status_file(b'{"status": 3}'), lambda r: r['status'] == 'damaged')
    ok('runner', 'read_status unknown status word -> damaged', status_file(b'{"status": "exploded", "parameters": {}}'), lambda r: r['status'] == 'damaged')
    ok('runner', 'read_status running with a non-int pid -> interrupted', status_file(b'{"status": "running", "pid": "x", "host": "h", "parameters": {}}'), lambda r: r['status'] == 'interrupted')
    def run_folder(metrics: bytes | None, status=b'{"status": "done", "experiment": "toy", "parameters": {}}'):
        def call():
            d = tmpdir('or'); (d/'status.json').write_bytes(status)
            if metrics is not None: (d/'metrics.json').write_bytes(metrics)
            return open_run(d)
        return call
    err('runner', 'open_run metrics.json non-UTF-8', run_folder(b'{"\xff": 1}'), 'metrics.json')
    err('runner', 'open_run metrics.json truncated', run_folder(b'{"a": '), 'metrics.json')
    err('runner', 'open_run metrics.json a list', run_folder(b'[1, 2]'), 'metrics.json')
    err('runner', 'open_run status.json damaged', run_folder(None, b'{"stat'), 'status.json')
    err('runner', 'open_run missing folder', lambda: open_run(_TMP/'no-such-run'), 'no-such-run')
    def list_damaged():
        root = tmpdir('lr'); d = root/'toy'/'r1'; d.mkdir(parents=True); (d/'status.json').write_bytes(b'\xff\xfe'); (root/'toy'/'r2').mkdir()
        (root/'toy'/'r2'/'status.json').write_text(json.dumps({'status': 'done', 'parameters': {}, 'seconds': 'x'})); (root/'toy'/'r2'/'metrics.json').write_text('[1]')
        return list_runs(root)
    ok('runner', 'list_runs with damaged runs', list_damaged, lambda r: len(r) == 2 and r[0]['status'] == 'damaged' and r[1]['status'] == 'damaged')

@cases_for('cli')
def _cli():
    main, UsageError = api('cli', 'main', 'UsageError')
    def cli(*argv):
        def call():
            with toy_experiments():
                buf = io.StringIO()
                with contextlib.redirect_stderr(buf), contextlib.redirect_stdout(buf):
                    try: rc = main(list(argv))
                    except SystemExit as e: rc = e.code
                if rc not in (0, None): raise RuntimeError(f"exit {rc}: {buf.getvalue().strip()[-300:]}")
                return buf.getvalue()
        return call
    err('cli', 'run -p n=1 -p n=2 (issue)', cli('run', 'toy', '-p', 'n=1', '-p', 'n=2', '--runs', str(_TMP/'cli-runs')), 'n')
    err('cli', 'run -p n=1.5 (issue)', cli('run', 'toy', '-p', 'n=1.5', '--runs', str(_TMP/'cli-runs')), 'n')
    err('cli', 'run -p names=abc (issue)', cli('run', 'toy', '-p', 'names=abc', '--runs', str(_TMP/'cli-runs')), 'names')
    err('cli', 'run unknown experiment', cli('run', 'nope'), 'nope')
    err('cli', 'run no experiment', cli('run'), ('experiment', '--all'))
    err('cli', 'run experiment and --all', cli('run', 'toy', '--all'), ('--all', 'experiment'))
    err('cli', 'data build unknown corpus', cli('data', 'build', 'bogus'), 'bogus')
    err('cli', 'data build --seed -1', cli('data', 'build', 'text', '--seed', '-1'), 'seed')
    err('cli', 'data build --size huge', cli('data', 'build', 'text', '--size', 'huge'), 'size')
    err('cli', 'data verify unknown name', cli('data', 'verify', 'nope-corpus', '--root', str(tmpdir('cli-root'))), 'nope-corpus')
    err('cli', 'data import table missing file', cli('data', 'import', 'table', 't', '--csv', str(_TMP/'nope.csv'), '--root', str(tmpdir('cli-root2'))), 'nope.csv')
    err('cli', 'runs --compare without a store', cli('runs', '--compare', 'toy', '--runs', str(tmpdir('cli-runs2'))), ('toy', 'mlflow', 'tracked'))
    err('cli', 'unknown command', cli('frobnicate'), 'frobnicate')

# ============================================================================ more cases over the model modules (second pass)
@cases_for('quantize')
def _quantize2():
    VQ, RVQ, FSQ, OPQ, Codebook, least_squares_codebooks, cross_head_similarity, rotation_trick, RVQEMA = api('quantize', 'VectorQuantizer',
        'ResidualVectorQuantizer', 'FiniteScalarQuantizer', 'OrthogonalProductQuantizer', 'Codebook', 'least_squares_codebooks',
        'cross_head_similarity', 'rotation_trick', 'ResidualVectorQuantizerEMA')
    D = 8
    err('quantize', 'FSQ decode code out of range', lambda: FSQ(3, [5, 5, 5]).decode(torch.tensor([999])), 'codes')
    ok('quantize', 'FSQ encode/decode round trip on the grid', lambda: (lambda q: (q.decode(q.encode(q.decode(torch.arange(10)))), q.decode(torch.arange(10))))(FSQ(3, [5, 5, 5]).eval()),
       lambda r: close(*r))
    ok('quantize', 'FSQ float64', lambda: FSQ(3, [5, 5, 5]).eval().encode(torch.randn(4, 3, dtype=torch.float64)), lambda r: r.dtype == torch.int64, names=('x', 'dtype'))
    ok('quantize', 'OPQ forward empty batch', lambda: OPQ(8, 2, 16).eval()(torch.zeros(0, 8)), lambda r: r.quantized.shape == (0, 8) and finite(r.loss))
    err('quantize', 'OPQ NaN input', lambda: OPQ(8, 2, 16).eval()(torch.full((2, 8), float('nan'))), ('x', 'finite'))
    ok('quantize', 'VQ first training batch of one row (k-means init with fewer rows than codes)', lambda: VQ(D, 16).train()(torch.randn(1, D)), lambda r: finite(r.loss) and finite(r.quantized))
    ok('quantize', 'VQ cosine with a zero input row', lambda: (lambda q: (q.train()(torch.randn(64, D)), q.eval().encode(torch.zeros(2, D)))[1])(VQ(D, 16, use_cosine_sim=True)), lambda r: bool((r >= 0).all()), names=('x',))
    ok('quantize', 'VQ codebook_dim projection decode(encode) shape', lambda: (lambda q: (q.train()(torch.randn(64, D)), q.eval().decode(q.encode(torch.randn(3, D))))[1])(VQ(D, 16, codebook_dim=4)), lambda r: r.shape == (3, D))
    err('quantize', 'VQ codebook_dim 0', lambda: VQ(D, 16, codebook_dim=0), 'codebook_dim')
    err('quantize', 'VQ threshold_ema_dead_code negative', lambda: VQ(D, 16, threshold_ema_dead_code=-1.0), 'threshold_ema_dead_code')
    err('quantize', 'RVQ fit_codebooks NaN', lambda: RVQ(D, 8, 2).fit_codebooks(torch.full((20, D), float('nan'))), 'x')
    err('quantize', 'RVQ fit_codebooks iters -1', lambda: RVQ(D, 8, 2).fit_codebooks(torch.randn(20, D), iters=-1), 'iters')
    err('quantize', 'RVQ fit_codebooks ridge negative', lambda: RVQ(D, 8, 2).fit_codebooks(torch.randn(20, D), ridge=-1.0), 'ridge')
    err('quantize', 'least_squares_codebooks codes out of range', lambda: least_squares_codebooks(torch.randn(5, 3), torch.full((5, 1), 9), [torch.randn(4, 3)]), 'codes')
    err('quantize', 'least_squares_codebooks codes layer count', lambda: least_squares_codebooks(torch.randn(5, 3), torch.zeros(5, 2, dtype=torch.long), [torch.randn(4, 3)]), 'codes')
    err('quantize', 'cross_head_similarity empty', lambda: cross_head_similarity([]), 'codebooks')
    err('quantize', 'rotation_trick shape mismatch', lambda: rotation_trick(torch.randn(3, 4), torch.randn(3, 5)), ('q', 'z'))
    err('quantize', 'RVQEMA num_layers 0', lambda: RVQEMA(16, 8, 0), 'num_layers')
    err('quantize', 'Codebook decay 0', lambda: Codebook(8, 16, decay=0.0), 'decay')

@cases_for('codebook')
def _codebook2():
    fit_codebook, usage_for, CodebookUsage, plot_usage, collapse_quantizers = api('codebook', 'fit_codebook', 'usage_for', 'CodebookUsage', 'plot_usage', 'collapse_quantizers')
    VQ = api('quantize', 'VectorQuantizer')
    err('codebook', 'fit_codebook epochs 0', lambda: fit_codebook(VQ(4, 8), torch.randn(32, 4), epochs=0, progress=False), 'epochs')
    err('codebook', 'fit_codebook batch_size 0', lambda: fit_codebook(VQ(4, 8), torch.randn(32, 4), epochs=1, batch_size=0, progress=False), 'batch_size')
    err('codebook', 'fit_codebook NaN data', lambda: fit_codebook(VQ(4, 8), torch.full((32, 4), float('nan')), epochs=1, progress=False), 'data')
    err('codebook', 'fit_codebook lr 0', lambda: fit_codebook(VQ(4, 8), torch.randn(32, 4), epochs=1, lr=0.0, progress=False), 'lr')
    err('codebook', 'usage_for a Linear', lambda: usage_for(torch.nn.Linear(2, 2)), 'quantizer')
    ok('codebook', 'plot_usage of an empty usage', lambda: plot_usage(CodebookUsage(4)), lambda r: True, names=('usage',))
    ok('codebook', 'entropy of uniform use is log2 K', lambda: CodebookUsage(4).update(torch.arange(4)).entropy(), lambda r: abs(float(torch.as_tensor(r).flatten()[0]) - 2.0) < 1e-6)
    err('codebook', 'entropy base 1', lambda: CodebookUsage(4).update(torch.arange(4)).entropy(base=1.0), 'base')
    err('codebook', 'collapse_quantizers threshold negative', lambda: collapse_quantizers(4, 8, threshold=-1.0), 'threshold')

@cases_for('rqvae')
def _rqvae2():
    DocumentRQVAE, sinusoidal, document_vectors = api('rqvae', 'DocumentRQVAE', 'sinusoidal', 'document_vectors')
    D = 6
    def small(**kw): return DocumentRQVAE(D, 8, codebook_size=8, num_quantizers=2, window_size=4, window_stride=3, max_seq_len=16,
                                          num_encoder_layers=1, num_decoder_layers=1, nhead=2, pooling_hidden_dim=8, dropout=0.0, **kw)
    ok('rqvae', 'train forward one row', lambda: small().train()(torch.randn(1, 10, D)), lambda r: finite(r.loss))
    ok('rqvae', 'train forward shorter than one window', lambda: small().train()(torch.randn(2, 3, D)), lambda r: finite(r.loss))
    ok('rqvae', 'forward one frame', lambda: small().eval()(torch.randn(1, 1, D)), lambda r: finite(r.loss) and r.recon.shape[:2] == (1, 1))
    err('rqvae', 'sinusoidal dim 0', lambda: sinusoidal(torch.arange(4.), 0), 'dim')
    err('rqvae', 'training_step batch of wrong type', lambda: small().training_step('abc'), 'batch')
    err('rqvae', 'from_preset unknown kwarg', lambda: DocumentRQVAE.from_preset(list(api('rqvae', 'PRESETS'))[0], bogus=1), 'bogus')
    err('rqvae', 'document_vectors NaN item', lambda: document_vectors(small().eval(), [np.full((5, D), np.nan, np.float32)]), ('items', 'x'))
    err('rqvae', 'retrieval_codes mask all False one row', lambda: small().eval().retrieval_codes(torch.randn(1, 5, D), torch.tensor([[1, 1, 0, 0, 0]])), 'mask')
    ok('rqvae', 'decode(-1 windows) gives zeros', lambda: small().eval().decode(torch.full((1, 3, 2), -1), torch.tensor([0])), lambda r: r.shape[0] == 1 and float(r.abs().sum()) == 0)

@cases_for('pqvae')
def _pqvae2():
    PQVAE, CodeIndex = api('pqvae', 'PQVAE', 'CodeIndex')
    D = 8
    def pq(): return PQVAE(input_dim=D, hidden_dim=16, latent_dim=8, num_heads=2, codebook_size=16, kmeans_iters=2, dropout=0.0).init_codebooks(torch.randn(64, D)).eval()
    ok('pqvae', 'training_step one row', lambda: pq().train().training_step(torch.randn(1, D)), lambda r: finite(r['loss']))
    err('pqvae', 'training_step NaN batch', lambda: pq().train().training_step(torch.full((4, D), float('nan'))), 'embeddings')
    err('pqvae', 'revive_dead_codes NaN', lambda: pq().revive_dead_codes(torch.full((8, D), float('nan'))), 'embeddings')
    err('pqvae', 'CodeIndex.add NaN', lambda: CodeIndex(pq()).add(torch.full((2, D), float('nan'))), 'embeddings')
    ok('pqvae', 'CodeIndex k beyond rows pads -1', lambda: CodeIndex(pq(), pq().encode(torch.randn(3, D))).search(torch.randn(2, D), k=5), lambda r: bool((r[1][:, 3:] == -1).all()) and bool((r[1][:, :3] >= 0).all()))
    def rerank_brute():
        m = pq(); x = torch.randn(20, D); q = torch.randn(3, D)
        ix = CodeIndex(m); ix.add(x)
        dist, ids = ix.search(q, k=5, rerank=20)
        with torch.no_grad(): recon = m.decode(m.encode(x))
        brute = 1 - torch.nn.functional.cosine_similarity(q.double()[:, None], recon.double()[None], dim=-1)
        return dist, brute
    ok('pqvae', 'CodeIndex rerank over all rows = brute force (cosine) on decoded vectors', rerank_brute,
       lambda r: close(r[0], r[1].sort(1).values[:, :5], 1e-5))
    err('pqvae', 'CodeIndex batch_size 0', lambda: CodeIndex(pq(), pq().encode(torch.randn(3, D))).search(torch.randn(2, D), batch_size=0), 'batch_size')
    err('pqvae', 'CodeIndex not a PQVAE', lambda: CodeIndex(torch.nn.Linear(2, 2)), 'model')

@cases_for('categorical')
def _categorical2():
    CategoricalVQVAE, Config, code_usage, KMeansDistortion, WaterFillingDistortion, compute_adaptive = api('categorical', 'CategoricalVQVAE',
        'CategoricalVQVAEConfig', 'code_usage', 'KMeansDistortion', 'WaterFillingDistortion', 'compute_adaptive_compression_ratios')
    cats = {'a': [0, 1, 2], 'b': [3, 4, 5]}
    X = torch.randn(64, 6)
    def cat():
        m = CategoricalVQVAE(categories=cats, hidden_dim=8, num_tokens=8, kmeans_iters=2); m.train()(X); return m.eval()
    ok('categorical', 'decode(encode(x)) equals forward recon', lambda: (lambda m: (m.decode(m.encode(X[:5])), m(X[:5]).recon))(cat()), lambda r: close(*r, 1e-5))
    ok('categorical', 'forward one row', lambda: cat()(X[:1]), lambda r: r.recon.shape == (1, 6) and finite(r.loss))
    ok('categorical', 'train first batch of one row', lambda: CategoricalVQVAE(categories=cats, hidden_dim=8, num_tokens=8).train()(X[:1]), lambda r: finite(r.loss), names=('x', 'rows'))
    err('categorical', 'code_usage batch_size 0', lambda: code_usage(cat(), X, batch_size=0), 'batch_size')
    err('categorical', 'KMeansDistortion holdout 1.5', lambda: KMeansDistortion(np.random.randn(40, 3), holdout=1.5), 'holdout')
    err('categorical', 'KMeansDistortion NaN', lambda: KMeansDistortion(np.full((40, 3), np.nan)), 'x')
    err('categorical', 'WaterFillingDistortion NaN', lambda: WaterFillingDistortion(np.full((40, 3), np.nan)), 'x')
    err('categorical', 'compute_adaptive unknown strategy', lambda: compute_adaptive(np.random.randn(30, 3), strategy='zz'), 'strategy')
    err('categorical', 'compute_adaptive NaN features', lambda: compute_adaptive(np.full((30, 3), np.nan)), 'features')
    err('categorical', 'resolve NaN features', lambda: Config(categories=cats, compression_ratios='auto').resolve(np.full((30, 6), np.nan)), 'features')
    err('categorical', 'resolve features of wrong width', lambda: Config(categories=cats, compression_ratios='auto').resolve(np.random.randn(30, 4)), 'features')
    ok('categorical', 'config to_dict round trip', lambda: (lambda c: (Config(**c.to_dict()).to_dict(), c.to_dict()))(Config(categories=cats)), lambda r: r[0] == r[1])

@cases_for('windows')
def _windows2():
    (encode_windows, decode_windows, pair_overlap, PlantedPairs, MatchCollate, random_plant, closest_pair, keep_distinct, TemporalCompressor,
     WINDOW_KEYS) = api('windows', 'encode_windows', 'decode_windows', 'pair_overlap', 'PlantedPairs', 'MatchCollate', 'random_plant',
        'closest_pair', 'keep_distinct', 'TemporalCompressor', 'WINDOW_KEYS')
    C = 4
    CandidateScorer, CANDIDATE_FEATURES = api('windows', 'CandidateScorer', 'CANDIDATE_FEATURES')
    NF = len(CANDIDATE_FEATURES)
    one_right = [torch.tensor([True, False, False, False])]
    err('windows', 'CandidateScorer wrong feature count', lambda: CandidateScorer()(torch.randn(3, 5)), 'feats')
    err('windows', 'CandidateScorer.fit NaN features', lambda: CandidateScorer().fit([torch.full((4, NF), float('nan'))], one_right), 'feats')
    err('windows', 'CandidateScorer.fit int labels', lambda: CandidateScorer().fit([torch.randn(4, NF)], [torch.tensor([1, 0, 0, 0])]), 'labels')
    err('windows', 'CandidateScorer.fit no correct candidate', lambda: CandidateScorer().fit([torch.randn(4, NF)], [torch.zeros(4, dtype=torch.bool)]), 'labels')
    err('windows', 'CandidateScorer.fit weight_decay=-1', lambda: CandidateScorer().fit([torch.randn(4, NF)], one_right, weight_decay=-1), 'weight_decay')
    def separable():                 # one feature marks the right candidate: the fitted score must rank it first
        g = torch.Generator().manual_seed(0)
        feats = [torch.randn(6, NF, generator=g) for _ in range(8)]
        for f in feats: f[0, 0] += 4.
        sc = CandidateScorer().fit(feats, [torch.arange(6) == 0 for _ in feats], steps=100)
        return [int(sc(f).argmax()) for f in feats]
    ok('windows', 'CandidateScorer.fit learns a separable feature', separable, lambda r: r == [0] * 8)
    def roundtrip():
        raw = torch.randn(2, 3, len(WINDOW_KEYS)) * 0.5
        w = decode_windows(raw, 40, 40, 8); back = decode_windows(encode_windows(w, 40, 40, 8), 40, 40, 8)
        return w, back
    ok('windows', 'decode(encode(windows)) round trip', roundtrip, lambda r: all(close(r[0][k], r[1][k], 1e-3) for k in r[0]))
    err('windows', 'decode_windows NaN raw', lambda: decode_windows(torch.full((1, 1, len(WINDOW_KEYS)), float('nan')), 40, 40, 8), 'raw')
    err('windows', 'decode_windows length > frames', lambda: decode_windows(torch.zeros(1, 1, len(WINDOW_KEYS)), 40, 40, 50), 'length')
    err('windows', 'PlantedPairs one clip', lambda: PlantedPairs([torch.randn(C, 40)], 2), 'clips')
    err('windows', 'PlantedPairs n 0', lambda: PlantedPairs([torch.randn(C, 400)] * 2, 0), 'n')
    err('windows', 'PlantedPairs frame_rate 0', lambda: PlantedPairs([torch.randn(C, 400)] * 2, 2, frame_rate=0.0), 'frame_rate')
    err('windows', 'PlantedPairs clips shorter than a pattern', lambda: PlantedPairs([torch.randn(C, 10)] * 2, 2)[0], ('clips', 'pattern'))
    err('windows', 'MatchCollate negatives -1', lambda: MatchCollate(negatives=-1), 'negatives')
    err('windows', 'MatchCollate empty batch', lambda: MatchCollate()([]), ('items', 'batch'))
    err('windows', 'random_plant reversed pattern_s', lambda: random_plant(torch.Generator().manual_seed(0), torch.randn(C, 400), torch.randn(C, 400), pattern_s=(6.0, 3.4)), 'pattern_s')
    err('windows', 'random_plant mix above 1', lambda: random_plant(torch.Generator().manual_seed(0), torch.randn(C, 400), torch.randn(C, 400), mix=(0.5, 1.5)), 'mix')
    err('windows', 'closest_pair no pairs', lambda: closest_pair([], {'input_start_s': 0.0}, 1.0), ('pairs', 'truth'))
    err('windows', 'keep_distinct max_overlap NaN', lambda: keep_distinct([], 1, 8, max_overlap=float('nan')), 'max_overlap')
    err('windows', 'TemporalCompressor ratio 0', lambda: TemporalCompressor()(torch.randn(1, C, 40), torch.tensor([0.]), torch.tensor([0.]), 8), 'ratio')
    err('windows', 'TemporalCompressor NaN start', lambda: TemporalCompressor()(torch.randn(1, C, 40), torch.tensor([float('nan')]), torch.tensor([1.]), 8), 'start')

@cases_for('inspector')
def _inspector2():
    InspectorFigure, Playback, WindowInspector, Recording, rqvae_windows = api('inspector', 'InspectorFigure', 'Playback', 'WindowInspector', 'Recording', 'rqvae_windows')
    rec = lambda: Recording('a', np.zeros(16000, np.float32), 16000)
    err('inspector', 'InspectorFigure no tracks', lambda: InspectorFigure({}), 'tracks')
    err('inspector', 'InspectorFigure window on an unknown track', lambda: InspectorFigure({'a': rec()}, [api('inspector', 'Window')('zz', 0.0, 0.5, 'w', 'truth')]), ('zz', 'windows', 'track'))
    err('inspector', 'InspectorFigure window beyond the recording', lambda: InspectorFigure({'a': rec()}, [api('inspector', 'Window')('a', 0.5, 9.0, 'w', 'truth')]), ('windows', 'end_s', 'a'))
    err('inspector', 'WindowInspector no clips', lambda: WindowInspector({}), 'clips')
    err('inspector', 'rqvae_windows frame_rate 0', lambda: rqvae_windows(None, np.zeros((10, 4), np.float32), 0.0), ('frame_rate', 'model'))

@cases_for('retrieval')
def _retrieval2():
    UnityConfig, UnitySpeechModel, DualEncoder, DualTaskCollator, unity_step, generate, retrieve, id_table, Trie = api('retrieval', 'UnityConfig',
        'UnitySpeechModel', 'DualEncoder', 'DualTaskCollator', 'unity_step', 'generate', 'retrieve', 'id_table', 'Trie')
    M = 8
    cfg = dict(n_mels=M, d_model=16, nhead=2, encoder_layers=1, decoder_layers=1, dropout=0.0, semantic_vocab=4, semantic_length=3, doc_vocab=6, doc_length=4, max_frames=64)
    unity = lambda: UnitySpeechModel(**cfg).eval()
    err('retrieval', 'DualTaskCollator empty batch', lambda: DualTaskCollator()([]), ('items', 'batch'))
    err('retrieval', 'unity_step batch missing keys', lambda: unity_step(unity(), {'x': torch.randn(1, 10, M)}), 'batch')
    err('retrieval', 'UnityConfig.for_tables not tables', lambda: UnityConfig.for_tables([[0]], [[1]]), ('semantic', 'doc'))
    err('retrieval', 'warm_start from a Linear', lambda: unity().warm_start(torch.nn.Linear(2, 2)), 'dense')
    err('retrieval', 'DualEncoder doc batch mismatch', lambda: DualEncoder(UnityConfig(**cfg))(torch.randn(2, 10, M), None, torch.randn(3, 10, M), None), ('doc_x', 'x'))
    err('retrieval', 'retrieve batch_size 0', lambda: retrieve(unity(), [np.zeros((10, M), np.float32)], id_table(torch.tensor([[0, 1, 2], [3, 4, 5]])), batch_size=0), 'batch_size')
    imprint_doc_head, doc_states = api('retrieval', 'imprint_doc_head', 'doc_states')
    err('retrieval', 'imprint_doc_head multi-token IDs', lambda: imprint_doc_head(unity(), [[np.zeros((10, M), np.float32)]] * cfg['doc_vocab']), 'model')
    err('retrieval', 'doc_states empty', lambda: doc_states(unity(), []), 'items')
    err('retrieval', 'retrieve NaN query', lambda: retrieve(unity(), [np.full((10, M), np.nan, np.float32)], id_table(torch.tensor([[0, 1, 2], [3, 4, 5]]))), ('queries', 'x'))
    err('retrieval', 'generate trie with tokens beyond the vocab', lambda: generate(unity(), torch.randn(1, 10, M), num_beams=2, trie=Trie([[9, 9, 9, 9]])), ('trie', 'doc_vocab'))
    err('retrieval', 'generate trie of another id length', lambda: generate(unity(), torch.randn(1, 10, M), num_beams=2, trie=Trie([[0, 1]])), ('trie', 'doc_length'))

@cases_for('train')
def _train2():
    Trainer, TrainConfig, CheckpointStore, seed_everything, set_rng_state, Tracker, metric_key = api('train', 'Trainer', 'TrainConfig', 'CheckpointStore',
        'seed_everything', 'set_rng_state', 'Tracker', 'metric_key')
    class Tiny(torch.nn.Module):
        def __init__(self, n=2): super().__init__(); self.l = torch.nn.Linear(n, 1)
        def forward(self, x): return self.l(x)
    data = [torch.randn(2) for _ in range(4)]
    step = lambda m, b: {'loss': m(b).pow(2).mean()}
    cfg = lambda **kw: TrainConfig(**(dict(epochs=1, batch_size=2, progress=False, device='cpu', checkpoint_every=1) | kw))
    err('train', 'seed_everything negative', lambda: seed_everything(-1), 'seed')
    err('train', 'set_rng_state garbage', lambda: set_rng_state({'torch': 'x'}), 'state')
    err('train', 'TrainConfig validate_every 0', lambda: TrainConfig(validate_every=0), 'validate_every')
    err('train', 'TrainConfig warmup_steps -1', lambda: TrainConfig(warmup_steps=-1), 'warmup_steps')
    err('train', 'Trainer valid_data empty', lambda: Trainer(Tiny(), data, cfg(validate_every=1), valid_data=[], step_fn=step, run_dir=tmpdir('tv')).fit(), 'valid_data')
    def resume_other_model():
        d = tmpdir('tro'); Trainer(Tiny(), data, cfg(), step_fn=step, run_dir=d).fit()
        return Trainer(Tiny(3), [torch.randn(3) for _ in range(4)], cfg(epochs=2), step_fn=step, run_dir=d).fit()
    err('train', 'Trainer resume a run folder of another model', resume_other_model, ('checkpoint', 'run_dir', 'model'))
    def resume_damaged_all():
        d = tmpdir('trd'); Trainer(Tiny(), data, cfg(), step_fn=step, run_dir=d).fit()
        for p in d.rglob('*.pt'): flip_byte(p)
        return Trainer(Tiny(), data, cfg(epochs=2), step_fn=step, run_dir=d).fit()
    ok('train', 'Trainer resume with every checkpoint flipped: error or restart', resume_damaged_all, lambda r: isinstance(r, list), names=('checkpoint', 'intact'))
    def step_returns_nan_metric():
        return Trainer(Tiny(), data, cfg(), step_fn=lambda m, b: {'loss': m(b).pow(2).mean(), 'acc': float('nan')}, run_dir=tmpdir('trn')).fit()
    ok('train', 'Trainer with a NaN side metric keeps strict JSON', lambda: (step_returns_nan_metric(), [json.loads(p.read_text()) for p in (_TMP/'trn').rglob('*.json')])[1], lambda r: True, names=('acc',))
    ok('train', 'metric_key odd characters', lambda: metric_key('recall@10 / a|b'), lambda r: re.fullmatch(r"[\w\-./: ]+", r) is not None)

@cases_for('core')
def _core2():
    atomic_write_json, read_json, replace_atomically, check_choice, stale_temporaries = api('core', 'atomic_write_json', 'read_json', 'replace_atomically', 'check_choice', 'stale_temporaries')
    def nan_json():
        p = atomic_write_json(tmpdir('aj')/'x.json', {'a': float('nan'), 'b': [float('inf')]})
        return json.loads(p.read_text(), parse_constant=lambda c: f'bare {c}')     # strict readers refuse NaN / Infinity
    ok('core', 'atomic_write_json NaN / inf written as null (strict JSON)', nan_json, lambda r: r == {'a': None, 'b': [None]})
    def failing_writer():
        d = tmpdir('rw')
        try: replace_atomically(d/'x.bin', lambda p: (p.write_bytes(b'part'), 1 / 0))
        except ZeroDivisionError: pass
        return list(d.iterdir())
    ok('core', 'replace_atomically leaves nothing after a failed write', failing_writer, lambda r: r == [])
    err('core', 'check_choice unhashable value', lambda: check_choice('mode', ['a'], ('a', 'b')), 'mode')
    err('core', 'stale_temporaries missing folder', lambda: stale_temporaries(_TMP/'no-folder'), 'no-folder', check=lambda r: r == [])

#CASES-HERE

# ------------------------------------------------------------------------------------------------------------------ main
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('-m', '--module', action='append', help='only these modules (repeatable)')
    p.add_argument('-k', default=None, help='only cases whose name contains this')
    p.add_argument('--out', default=None, help='where to write the non-good cases (markdown)')
    p.add_argument('--json', default=None, help='also write every outcome as JSON here')
    p.add_argument('-v', '--verbose', action='store_true', help='print every case as it runs')
    a = p.parse_args(argv)
    t_all = time.perf_counter()
    for module, fn in CASE_MODULES:
        if a.module and module not in a.module: continue
        try: fn()
        except NotRun as e: CASES.append(Case(module, f"({module}: cases not built)", lambda e=e: (_ for _ in ()).throw(e)))
        except Exception as e:
            msg = f"case builder failed: {_message(e)}"
            CASES.append(Case(module, f"({module}: cases not built)", lambda msg=msg: (_ for _ in ()).throw(NotRun(msg))))
    outcomes = []
    for c in CASES:
        if a.k and a.k.lower() not in c.name.lower(): continue
        o = run_case(c); outcomes.append(o)
        if a.verbose or o.verdict != 'good':
            print(f"[{o.verdict:7}] {c.module:12} {c.name}  ({o.seconds:.1f}s)" + (f"\n            {o.detail}" if o.verdict != 'good' else ''),
                  flush=True)
    verdicts = ('good', 'obscure', 'silent', 'not run')
    counts = {}
    for o in outcomes: counts.setdefault(o.case.module, dict.fromkeys(verdicts, 0))[o.verdict] += 1
    out = Path(a.out) if a.out else Path('runs')/'adversarial'/'findings.md'
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"# Adversarial pass: {len(outcomes)} cases, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", '',
             '| module | good | obscure | silent | not run |', '|---|---|---|---|---|']
    for m, c in counts.items(): lines.append(f"| {m} | " + ' | '.join(str(c[v]) for v in verdicts) + ' |')
    tot = {v: sum(c[v] for c in counts.values()) for v in verdicts}
    lines.append('| **total** | ' + ' | '.join(str(tot[v]) for v in verdicts) + ' |')
    lines += ['', '## Cases that are not good', '']
    for o in outcomes:
        if o.verdict == 'good': continue
        lines += [f"- **{o.verdict}** `{o.case.module}`: {o.case.name}", f"  - expected: {o.case.expect}",
                  f"  - got: {o.detail}"]
        if o.case.snippet: lines.append(f"  - reproduce: `{o.case.snippet}`")
    out.write_text('\n'.join(lines) + '\n')
    if a.json:
        Path(a.json).write_text(json.dumps([dict(module=o.case.module, name=o.case.name, verdict=o.verdict, detail=o.detail,
                                                  expect=o.case.expect, snippet=o.case.snippet, seconds=round(o.seconds, 2))
                                             for o in outcomes], indent=1))
    print(f"\n{'module':14}" + ''.join(f"{v:>9}" for v in verdicts))
    for m, c in counts.items(): print(f"{m:14}" + ''.join(f"{c[v]:>9}" for v in verdicts))
    print(f"{'total':14}" + ''.join(f"{tot[v]:>9}" for v in verdicts))
    print(f"\n{len(outcomes)} cases in {time.perf_counter() - t_all:.0f} s; non-good cases written to {out}")
    shutil.rmtree(_TMP, ignore_errors=True)
    return 0

if __name__ == '__main__':
    sys.exit(main())
