"""`make test`: check notebooks and library are in sync, then run every notebook's tests.

Each notebook runs under `nbdev-test` in a process of its own, so global torch state that one
notebook sets (seeds, threads, default dtype) cannot leak into the next, as it can when
`nbdev-test` reuses worker processes. Beside them, the browser test of the inspector (tools/browser_test.py; skipped
without Chromium unless CI=1/true or VQNB_REQUIRE_BROWSER=1). The last line is
`tests: N passed, M failed` (`, K skipped` when the browser test was skipped).
"""
import hashlib, json, os, shutil, subprocess, sys, tempfile, time
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

TIMES = ROOT/'.cache'/'test-times.json'
# Before any run here has recorded its times: the notebooks that were slowest in CI, slowest first.
SLOW_FIRST = ('16_import.ipynb', '99_cli.ipynb', '21_runner.ipynb', 'experiments/categorical_vqvae.ipynb', '15_descriptors.ipynb',
              '14_music.ipynb', '20_train.ipynb', 'experiments/window_selection.ipynb', '34_inspector.ipynb')

def notebooks():
    """Every notebook, the slowest first (by the last run's times, kept in .cache/test-times.json): two workers that
    take the long ones first finish together, instead of one running the longest notebook alone at the end."""
    nbs = sorted(p for p in NBS.rglob('*.ipynb') if '.ipynb_checkpoints' not in p.parts and not p.name.startswith('_'))
    try: times = {k: float(v) for k, v in json.loads(TIMES.read_text()).items()}
    except (OSError, ValueError, TypeError, AttributeError): times = {}
    def cost(nb):
        name = str(nb.relative_to(NBS))
        return times[name] if name in times else (1e6 - SLOW_FIRST.index(name)) if name in SLOW_FIRST and not times else 0.
    return sorted(nbs, key=cost, reverse=True)

def numba_cache(name: str) -> str:
    """A numba cache folder of one test's own. librosa's numba functions cache their machine code beside librosa by default:
    two notebooks compiling them at once on a fresh install left a mismatched cache that crashed every later run (SIGSEGV)."""
    d = ROOT/'.cache'/'numba'/name.replace('/', '_')
    d.mkdir(parents=True, exist_ok=True)
    return str(d)

def timed(cmd, env) -> tuple[int, float, float, str]:
    """Run `cmd`: (exit status, wall seconds, CPU seconds of its whole process tree, output). The CPU time is what
    a test costs on a shared machine, where wall time mostly says how busy the machine was."""
    t0 = time.time()
    with tempfile.TemporaryFile('w+') as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        return proc.returncode, time.time() - t0, usage.ru_utime + usage.ru_stime, out.read()

def run_one(nb):
    env = {**os.environ, 'OMP_NUM_THREADS': os.environ.get('VQNB_TEST_THREADS', '1'), 'MPLBACKEND': 'Agg',
           'NUMBA_CACHE_DIR': numba_cache(str(nb.relative_to(NBS)))}
    rc, secs, cpu, out = timed([str(BIN/'nbdev-test'), str(nb)], env)
    return nb, rc == 0, secs, cpu, out

def run_browser():
    """tools/browser_test.py in a process of its own, beside the notebooks: (passed, skipped, seconds, CPU seconds, output).
    Without Chromium it is skipped, unless CI=1/true or VQNB_REQUIRE_BROWSER=1 make it fail."""
    env = {**os.environ, 'OMP_NUM_THREADS': os.environ.get('VQNB_TEST_THREADS', '1'), 'NUMBA_CACHE_DIR': numba_cache('browser')}
    rc, secs, cpu, out = timed([sys.executable, str(ROOT/'tools'/'browser_test.py')], env)
    return rc == 0, rc == 0 and 'SKIPPED' in out, secs, cpu, out

def main():
    if not check_sync():
        print('tests: 0 passed, 1 failed')
        return 1
    nbs = notebooks()
    workers = int(os.environ.get('VQNB_TEST_WORKERS', min(2, os.cpu_count() or 1)))
    passed = failed = 0
    times, t0 = {}, time.time()
    # the browser test spends much of its time waiting for JupyterLab and Chromium: beside the notebooks, a core is
    # seldom idle, where after them it left one so for a minute or more
    browser = ThreadPoolExecutor(1); browser_result = browser.submit(run_browser)
    with ThreadPoolExecutor(workers) as pool:
        for nb, ok, secs, cpu, out in pool.map(run_one, nbs):
            name = nb.relative_to(NBS)
            print(f"{'PASS' if ok else 'FAIL'}  {name}  ({secs:.0f} s, {cpu:.0f} s CPU)", flush=True)
            times[str(name)] = round(cpu, 1)
            if ok: passed += 1
            else:
                failed += 1
                print('\n'.join('    ' + l for l in out.strip().splitlines()[-60:]), flush=True)
    print(f"notebooks: {time.time() - t0:.0f} s on {workers} workers, {sum(times.values()):.0f} s CPU in all", flush=True)
    TIMES.parent.mkdir(exist_ok=True); TIMES.write_text(json.dumps(times, indent=1))
    ok, skip, secs, cpu, out = browser_result.result(); browser.shutdown()
    print(f"{'SKIP' if skip else 'PASS' if ok else 'FAIL'}  browser test: the inspector in JupyterLab + headless Chromium  ({secs:.0f} s, {cpu:.0f} s CPU)", flush=True)
    if skip or not ok: print('\n'.join('    ' + l for l in out.strip().splitlines()[-30:]), flush=True)
    skipped, passed, failed = int(skip), passed + (ok and not skip), failed + (not ok)
    print(f'tests: {passed} passed, {failed} failed' + (f', {skipped} skipped' if skipped else ''))
    return 1 if failed or not nbs else 0

if __name__ == '__main__': sys.exit(main())
