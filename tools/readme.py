"""Render nbs/index.ipynb as README.md (markdown cells as they are, code cells as python blocks).

nbdev's own `nbdev-readme` renders through Quarto, a separate binary download; this needs only nbformat.
A markdown line `<!-- results: EXPERIMENT -->` becomes that experiment's result table, rendered from its committed
snapshot `docs/results/EXPERIMENT.json` (written by `vqnb runs --snapshot`, i.e. `make results`, from the latest
finished default run): the experiment's own `table_markdown`, else a table of its `summary` numbers, with the run's id
and date. Without a snapshot it says the run is missing. Nothing here reads runs/, so a clean clone renders the same.
`--check` exits 1 when README.md is not the current rendering.
"""
import json, math, re, sys
from pathlib import Path
import nbformat

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT/'docs'/'results'
MARK = re.compile(r'^<!-- results: ([\w.-]+) -->$', re.M)

def fmt(v) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)): return '—' if v is None else str(v).replace('|', '\\|')
    return f"{v:.4g}" if isinstance(v, float) and math.isfinite(v) else str(v)

def results_block(name: str, folder: Path = RESULTS) -> str:
    "The markdown that replaces `<!-- results: name -->`."
    path = folder/f"{name}.json"
    if not path.exists():
        return (f"*Missing: no finished default run of `{name}` is recorded in `docs/results/` yet; "
                f"`make run` then `make results` renders its table here.*")
    snap = json.loads(path.read_text())
    table = snap.get('table_markdown')
    if not table:
        rows = [f"| {k} | {fmt(v)} |" for k, v in (snap.get('summary') or {}).items()]
        table = '\n'.join(['| metric | value |', '|---|---|', *rows]) if rows else '*(the run recorded no summary)*'
    params = ', '.join(f"{k}={v}" for k, v in snap.get('parameters', {}).items())
    return f"{table}\n\n<sub>Rendered from run `{name}/{snap['run']}` ({snap['date']}, scale {snap['scale']}; {params}) by `make results`.</sub>"

def render(nb_path=ROOT/'nbs'/'index.ipynb', folder: Path = RESULTS) -> str:
    nb = nbformat.read(nb_path, as_version=4)
    parts = ['<!-- Generated from nbs/index.ipynb by tools/readme.py: edit the notebook, then `make sync`. -->']
    for cell in nb.cells:
        src = cell.source.strip()
        if cell.cell_type == 'markdown': parts.append(MARK.sub(lambda m: results_block(m.group(1), folder), src))
        elif cell.cell_type == 'code':
            if re.search(r'^#\|\s*(hide|exporti?)\b', src, re.M): continue
            code = '\n'.join(l for l in src.splitlines() if not l.startswith('#|')).strip()
            if code: parts.append(f"```python\n{code}\n```")
    return '\n\n'.join(parts) + '\n'

if __name__ == '__main__':
    text, readme = render(), ROOT/'README.md'
    if '--check' in sys.argv:
        if not readme.exists() or readme.read_text() != text:
            print('README.md is not the rendering of nbs/index.ipynb: run `make sync` and commit it.'); sys.exit(1)
    else: readme.write_text(text)
