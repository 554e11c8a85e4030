"""The inspector in a real browser: JupyterLab + headless Chromium (Debian's `chromium`, driven by playwright).

Starts JupyterLab on 127.0.0.1 with a token and temporary Jupyter directories, opens nbs/_inspector_demo.ipynb
(copied into a temporary folder) in headless Chromium, runs it, and checks from the page: the plotly figure is drawn
with the expected number of window rectangles; dragging the epoch slider with the mouse moves them; choosing another
pair in the window dropdown changes the highlighted windows; another clip redraws the figure; audio elements with a
playable source exist. Then it opens an HTML export of the inspector (`vqnb.runner.offline_html_exporter`) with
every http(s) request refused and checks the figure is drawn from the vendored JavaScript alone.

Screenshots go to .cache/browser-test/ (git-ignored); `--readme-screenshot PATH` also saves the inspector there.
Without Chromium (or playwright) the test prints `SKIPPED: <reason>` and exits 0, unless CI (CI=1/true) or
VQNB_REQUIRE_BROWSER=1 requires it: then it fails. The last line is `browser: N passed, M failed[, K skipped]`.
"""
import argparse, json, os, secrets, shutil, socket, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEMO = ROOT/'nbs'/'_inspector_demo.ipynb'
SHOTS = ROOT/'.cache'/'browser-test'
CHROMIUM = os.environ.get('VQNB_CHROMIUM', '/usr/bin/chromium')
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync']
N_SHAPES = 3 * 2 + 2          # the demo: 3 window pairs on 2 tracks, and the planted truth on both tracks

def required() -> bool:
    return os.environ.get('CI', '').lower() in ('1', 'true', 'yes') or os.environ.get('VQNB_REQUIRE_BROWSER') == '1'

def why_not() -> str | None:
    "Why the browser test cannot run here, or None."
    if not Path(CHROMIUM).exists(): return f"no Chromium at {CHROMIUM} (Debian package chromium; `make sysdeps` installs it)"
    try: import playwright.sync_api  # noqa: F401
    except ImportError: return "the Python package playwright is not installed (`make install`)"
    return None

def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def get_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as r: return json.load(r)

def wait_for(what: str, check, timeout: float, every: float = 0.25):
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            v = check()
            if v: return v
        except Exception: pass
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")

class Lab:
    "JupyterLab on 127.0.0.1 with a token, temporary Jupyter directories and the news toast disabled."
    def __init__(self, tmp: Path):
        self.dirs = {k: tmp/k for k in ('config', 'data', 'runtime', 'settings', 'workspaces', 'root')}
        for d in self.dirs.values(): d.mkdir()
        (self.dirs['config']/'labconfig').mkdir()
        (self.dirs['config']/'labconfig'/'page_config.json').write_text(json.dumps(
            {'disabledExtensions': {'@jupyterlab/apputils-extension:announcements': True}}))
        shutil.copy(DEMO, self.dirs['root']/'inspector_demo.ipynb')
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, 'JUPYTER_CONFIG_DIR': str(self.dirs['config']), 'JUPYTER_DATA_DIR': str(self.dirs['data']),
               'JUPYTER_RUNTIME_DIR': str(self.dirs['runtime']), 'JUPYTERLAB_SETTINGS_DIR': str(self.dirs['settings']),
               'JUPYTERLAB_WORKSPACES_DIR': str(self.dirs['workspaces']), 'PYTHONPATH': str(ROOT),
               'OMP_NUM_THREADS': os.environ.get('OMP_NUM_THREADS', '1')}
        env.pop('MPLBACKEND', None)
        cmd = [str(BIN/'jupyter'), 'lab', '--no-browser', '--ip=127.0.0.1', f'--port={self.port}', f'--IdentityProvider.token={self.token}',
               f'--ServerApp.root_dir={self.dirs["root"]}', '--LabApp.expose_app_in_browser=True', '--LabApp.news_url=',
               '--ServerApp.open_browser=False', '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate']
        if hasattr(os, 'geteuid') and os.geteuid() == 0: cmd.append('--allow-root')
        self.log = open(tmp/'jupyter.log', 'w')
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dirs['root'])
        wait_for('JupyterLab to answer', lambda: get_json(f"{self.url}/api/status?token={self.token}"), 60)

    def kernels(self) -> list: return get_json(f"{self.url}/api/kernels?token={self.token}")

    def stop(self):
        self.proc.terminate()
        try: self.proc.wait(10)
        except subprocess.TimeoutExpired: self.proc.kill()
        self.log.close()

# In the page: plotly draws each layout shape as a path in `.shapelayer`; ours carry no data-index filter, so all count.
SHAPES_JS = """() => Array.from(document.querySelectorAll('.jp-OutputArea .js-plotly-plot .shapelayer path'))
                 .map(p => ({d: p.getAttribute('d'), w: parseFloat(p.style.strokeWidth || '0')}))"""

def check_lab(page, lab: Lab, results: dict):
    page.goto(f"{lab.url}/lab/tree/inspector_demo.ipynb?token={lab.token}")
    page.wait_for_selector('.jp-NotebookPanel .jp-Cell', timeout=60_000)
    # running cells before the page's kernel connection is attached opens a kernel-selection dialog
    wait_for("the browser's kernel connection", lambda: any(k.get('connections', 0) > 0 for k in lab.kernels()), 60)
    page.wait_for_function("() => window.jupyterapp && document.querySelector('.jp-Notebook-ExecutionIndicator, .jp-Toolbar')", timeout=30_000)
    page.evaluate("() => window.jupyterapp.shell.collapseLeft()")          # the figure gets the page's width
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(f"() => document.querySelectorAll('.jp-OutputArea .js-plotly-plot .shapelayer path').length >= {N_SHAPES}",
                           timeout=90_000)
    errors = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts()
    if any('Error' in e for e in errors): raise AssertionError(f"the notebook failed: {errors}")
    shapes = page.evaluate(SHAPES_JS)
    results['rectangles'] = len(shapes) == N_SHAPES or f"{len(shapes)} rectangles, expected {N_SHAPES}"

    # drag the epoch slider's handle to the left end with the mouse
    handle = page.locator('.widget-slider:has(label:text-is("epoch")) .noUi-handle, .widget-hslider:has-text("epoch") .noUi-handle').first
    track = page.locator('.widget-hslider:has-text("epoch") .noUi-target, .widget-slider:has-text("epoch") .noUi-target').first
    handle.scroll_into_view_if_needed()
    hb, tb = handle.bounding_box(), track.bounding_box()
    page.mouse.move(hb['x'] + hb['width'] / 2, hb['y'] + hb['height'] / 2)
    page.mouse.down(); page.mouse.move(tb['x'] + 2, hb['y'] + hb['height'] / 2, steps=8); page.mouse.up()
    moved = lambda: [s['d'] for s in page.evaluate(SHAPES_JS)][:6] != [s['d'] for s in shapes][:6]
    try: wait_for('the rectangles to move', moved, 20)
    except TimeoutError: pass
    readout = page.locator('.widget-hslider:has-text("epoch") .widget-readout').first.inner_text()
    results['slider drag moves windows'] = moved() or f"rectangles did not move (epoch readout {readout!r})"

    # choose another window pair in the dropdown: the bold rectangles change
    bold = lambda: [i for i, s in enumerate(page.evaluate(SHAPES_JS)) if s['w'] >= 2.5]
    before = bold()
    select = page.locator('.widget-dropdown:has(label:text-is("window")) select').first
    select.scroll_into_view_if_needed()
    options = select.locator('option').all_inner_texts()
    select.select_option(label=options[-1])
    try: wait_for('the highlight to change', lambda: bold() != before, 20)
    except TimeoutError: pass
    results['dropdown changes highlight'] = (bold() != before and len(bold()) == 2) or f"bold rectangles {before} -> {bold()}"

    # another clip: a new FigureWidget replaces the figure, its windows given to the constructor (updates sent before a
    # frontend attaches would be lost)
    drawn = [s['d'] for s in page.evaluate(SHAPES_JS)]
    clip = page.locator('.widget-dropdown:has(label:text-is("clip")) select').first
    clip.select_option(label=clip.locator('option').all_inner_texts()[-1])
    redrawn = lambda: (lambda now: len(now) == N_SHAPES and now != drawn)([s['d'] for s in page.evaluate(SHAPES_JS)])
    try: wait_for('the new clip to be drawn', redrawn, 30)
    except TimeoutError: pass
    results['clip dropdown redraws the figure'] = redrawn() or f"{len(page.evaluate(SHAPES_JS))} rectangles after the clip change"

    # audio elements with a source the browser can play (metadata loaded: a duration)
    page.wait_for_function("() => document.querySelectorAll('.jp-OutputArea audio').length >= 6", timeout=20_000)
    durations = page.evaluate("""async () => Promise.all(Array.from(document.querySelectorAll('.jp-OutputArea audio')).map(a =>
        new Promise(r => { if (!a.src) return r(null); if (a.readyState >= 1) return r(a.duration);
                           a.addEventListener('loadedmetadata', () => r(a.duration)); a.addEventListener('error', () => r(-1));
                           setTimeout(() => r(a.readyState >= 1 ? a.duration : -2), 10000); a.load(); })))""")
    playable = [d for d in durations if d and d > 0]
    results['audio playable'] = len(playable) >= 4 or f"audio durations {durations}"

def check_offline_html(browser, tmp: Path, results: dict):
    "An HTML export of the inspector, opened with every http(s) request refused, draws the figure."
    sys.path.insert(0, str(ROOT))
    import nbformat
    from ipywidgets.embed import embed_data
    from vqnb.inspector import WindowInspector, synthetic_pair
    from vqnb.runner import offline_html_exporter
    x_in, x_tgt, truth = synthetic_pair(seed=1)
    insp = WindowInspector({'pair': dict(input=x_in, target=x_tgt)}, truths={'pair': truth})
    data = embed_data(views=[insp.widget], drop_defaults=False)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('inspector', outputs=[nbformat.v4.new_output(
        'display_data', data={'application/vnd.jupyter.widget-view+json': data['view_specs'][0], 'text/plain': 'inspector'})])])
    nb.metadata['widgets'] = {'application/vnd.jupyter.widget-state+json': {'version_major': 2, 'version_minor': 0,
                                                                            'state': data['manager_state']['state']}}
    (tmp/'report.html').write_text(offline_html_exporter().from_notebook_node(nb)[0])
    page, refused = browser.new_page(), []
    page.route('http*://**', lambda route: (refused.append(route.request.url), route.abort()))
    page.goto((tmp/'report.html').as_uri())
    try: page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot .shapelayer path').length >= 2", timeout=30_000)
    except Exception: pass
    n = page.evaluate("() => document.querySelectorAll('.js-plotly-plot .shapelayer path').length")
    results['offline HTML draws the figure'] = (n == 2 and not refused) or f"{n} rectangles (expected 2); refused requests: {refused[:3]}"
    return page

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--readme-screenshot', type=Path, help='also save a screenshot of the inspector here (JPEG)')
    args = ap.parse_args()
    reason = why_not()
    if reason:
        if required():
            print(f"FAIL  browser test cannot run: {reason}; CI (CI=1/true) or VQNB_REQUIRE_BROWSER=1 requires it")
            print('browser: 0 passed, 1 failed'); return 1
        print(f"SKIPPED: browser test: {reason}")
        print('browser: 0 passed, 0 failed, 1 skipped'); return 0
    from playwright.sync_api import sync_playwright
    SHOTS.mkdir(parents=True, exist_ok=True)
    t0, results = time.time(), {}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        tmp, lab, browser = Path(tmp), None, None
        page = offline = None
        try:
            lab = Lab(tmp); print(f"JupyterLab up: {time.time() - t0:.0f} s", flush=True)
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
            page = browser.new_page(viewport={'width': 1400, 'height': 1000})
            check_lab(page, lab, results); print(f"notebook run and checked in the page: {time.time() - t0:.0f} s", flush=True)
            out = page.locator('.jp-OutputArea-output:has(.js-plotly-plot)').first
            if args.readme_screenshot: out.screenshot(path=str(args.readme_screenshot), type='jpeg', quality=70)
            offline = check_offline_html(browser, tmp, results); print(f"offline HTML checked: {time.time() - t0:.0f} s", flush=True)
        except Exception as e:
            results['ran'] = f"{type(e).__name__}: {e}"
        finally:
            failed = {k: v for k, v in results.items() if v is not True}
            if failed and browser is not None:
                for name, p in (('lab', page), ('offline', offline)):
                    if p is not None:
                        try: p.screenshot(path=str(SHOTS/f"failure-{name}.png"), full_page=True)
                        except Exception: pass
                if lab is not None: shutil.copy(tmp/'jupyter.log', SHOTS/'jupyter.log')
            if browser is not None: browser.close()
            if lab is not None: lab.stop()
    for k, v in results.items(): print(f"{'PASS' if v is True else 'FAIL'}  browser: {k}" + ('' if v is True else f": {v}"))
    failed = sum(v is not True for v in results.values())
    if failed: print(f"screenshots and the Jupyter log in {SHOTS}")
    print(f"browser test: {time.time() - t0:.0f} s")
    print(f"browser: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0

if __name__ == '__main__': sys.exit(main())
