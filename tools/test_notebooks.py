"""`make test`: check notebooks and library are in sync, then run every notebook's tests.

Each notebook runs under `nbdev-test` in a process of its own, so global torch state that one
notebook sets (seeds, threads, default dtype) cannot leak into the next, as it can when
`nbdev-test` reuses worker processes. Then the browser test of the inspector (tools/browser_test.py; skipped
without Chromium unless CI=1/true or VQNB_REQUIRE_BROWSER=1). The last line is
`tests: N passed, M failed` (`, K skipped` when the browser test was skipped).
"""
import hashlib, os, shutil, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
NBS, LIB = ROOT/'nbs', ROOT/'vqnb'

def snapshot(root):
    files = [*(root/'nbs').rglob('*.ipynb'), *(root/'vqnb').rglob('*.py')]
    return {p.relative_to(root): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in files if '.ipynb_checkpoints' not in p.parts}

def check_sync():
    "Fail when `nbdev-clean` or `nbdev-export` would change a committed file; checked in a copy, so nothing here changes."
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp)/'repo'
        shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns('.venv', '.git', 'runs', 'data', '.cache', '_proc', '_docs',
                                                                  '__pycache__', '*.egg-info', '.ipynb_checkpoints'))
        before = snapshot(copy)
        for cmd in ('nbdev-clean', 'nbdev-export'):
            subprocess.run([str(BIN/cmd)], cwd=copy, check=True)
        after = snapshot(copy)
    changed = sorted(str(p) for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    if changed:
        print('Notebooks and library are out of sync: nbdev-clean / nbdev-export would change', *changed, sep='\n  ')
        print('Run `make sync` and commit the result.')
    readme_ok = subprocess.run([sys.executable, str(ROOT/'tools'/'readme.py'), '--check'], cwd=ROOT).returncode == 0
    return not changed and readme_ok

def notebooks():
    return sorted(p for p in NBS.rglob('*.ipynb')
                  if '.ipynb_checkpoints' not in p.parts and not p.name.startswith('_'))

def numba_cache(name: str) -> str:
    """A numba cache folder of one test's own. librosa's numba functions cache their machine code beside librosa by default:
    two notebooks compiling them at once on a fresh install left a mismatched cache that crashed every later run (SIGSEGV)."""
    d = ROOT/'.cache'/'numba'/name.replace('/', '_')
    d.mkdir(parents=True, exist_ok=True)
    return str(d)

def run_one(nb):
    env = {**os.environ, 'OMP_NUM_THREADS': os.environ.get('VQNB_TEST_THREADS', '1'), 'MPLBACKEND': 'Agg',
           'NUMBA_CACHE_DIR': numba_cache(str(nb.relative_to(NBS)))}
    t0 = time.time()
    r = subprocess.run([str(BIN/'nbdev-test'), str(nb)], cwd=ROOT, env=env,
                       capture_output=True, text=True)
    return nb, r.returncode == 0, time.time() - t0, r.stdout + r.stderr

def run_browser():
    """tools/browser_test.py in a process of its own, after the notebooks (it wants both cores): (passed, skipped, seconds, output).
    Without Chromium it is skipped, unless CI=1/true or VQNB_REQUIRE_BROWSER=1 make it fail."""
    env = {**os.environ, 'OMP_NUM_THREADS': os.environ.get('VQNB_TEST_THREADS', '1'), 'NUMBA_CACHE_DIR': numba_cache('browser')}
    t0 = time.time()
    r = subprocess.run([sys.executable, str(ROOT/'tools'/'browser_test.py')], cwd=ROOT, env=env, capture_output=True, text=True)
    out = r.stdout + r.stderr
    return r.returncode == 0, r.returncode == 0 and 'SKIPPED' in out, time.time() - t0, out

def main():
    if not check_sync():
        print('tests: 0 passed, 1 failed')
        return 1
    nbs = notebooks()
    workers = int(os.environ.get('VQNB_TEST_WORKERS', min(2, os.cpu_count() or 1)))
    passed = failed = 0
    with ThreadPoolExecutor(workers) as pool:
        for nb, ok, secs, out in pool.map(run_one, nbs):
            name = nb.relative_to(NBS)
            print(f"{'PASS' if ok else 'FAIL'}  {name}  ({secs:.0f} s)", flush=True)
            if ok: passed += 1
            else:
                failed += 1
                print('\n'.join('    ' + l for l in out.strip().splitlines()[-60:]), flush=True)
    ok, skip, secs, out = run_browser()
    print(f"{'SKIP' if skip else 'PASS' if ok else 'FAIL'}  browser test: the inspector in JupyterLab + headless Chromium  ({secs:.0f} s)", flush=True)
    if skip or not ok: print('\n'.join('    ' + l for l in out.strip().splitlines()[-30:]), flush=True)
    skipped, passed, failed = int(skip), passed + (ok and not skip), failed + (not ok)
    print(f'tests: {passed} passed, {failed} failed' + (f', {skipped} skipped' if skipped else ''))
    return 1 if failed or not nbs else 0

if __name__ == '__main__': sys.exit(main())
