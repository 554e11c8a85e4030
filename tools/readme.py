"""Render nbs/index.ipynb as README.md (markdown cells as they are, code cells as python blocks).

nbdev's own `nbdev-readme` renders through Quarto, a separate binary download; this needs only nbformat.
`--check` exits 1 when README.md is not the current rendering.
"""
import re, sys
from pathlib import Path
import nbformat

ROOT = Path(__file__).resolve().parents[1]

def render(nb_path=ROOT/'nbs'/'index.ipynb') -> str:
    nb = nbformat.read(nb_path, as_version=4)
    parts = ['<!-- Generated from nbs/index.ipynb by tools/readme.py: edit the notebook, then `make sync`. -->']
    for cell in nb.cells:
        src = cell.source.strip()
        if cell.cell_type == 'markdown': parts.append(src)
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
