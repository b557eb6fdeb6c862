"""Long functions are visible: none over 80 lines unless marked, with a reason, where it starts.

Every function and method of the project packages (nested ones too) that spans more than
:data:`MAX_LINES` lines, from its ``def`` (or first decorator) to its last line, docstring
and comments included, needs the comment ``# long: <reason>`` on the line directly above its
``def``, or above its first decorator::

    # long: one pass over the file's records, each branch a record kind
    def read_xsf(...):

A file that does not parse is reported too (it cannot be checked).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "climate_pipeline", "materials_pipeline", "render", "vizpipe_app")
MAX_LINES = 80
MARK = re.compile(r"^\s*# long: \S")


def _functions(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def long_functions(path: Path, max_lines: int = MAX_LINES) -> list[tuple[int, str, int, bool]]:
    """(first line, name, length, marked) of each function of ``path`` over ``max_lines``."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    out = []
    for fn in _functions(ast.parse(text, str(path))):
        first = min([fn.lineno] + [d.lineno for d in fn.decorator_list])
        length = (fn.end_lineno or fn.lineno) - first + 1
        if length > max_lines:
            above = lines[first - 2] if first >= 2 else ""
            out.append((first, fn.name, length, bool(MARK.match(above))))
    return out


def project_files() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")
                  if "__pycache__" not in p.parts)


def test_no_unmarked_long_functions():
    problems = []
    for path in project_files():
        rel = path.relative_to(ROOT).as_posix()
        try:
            found = long_functions(path)
        except SyntaxError as exc:
            problems.append(f"{rel}:{exc.lineno}: does not parse ({exc.msg})")
            continue
        problems += [f"{rel}:{line}: {name} is {n} lines (> {MAX_LINES}): split it, or put "
                     f"'# long: <reason>' on the line above its def"
                     for line, name, n, marked in found if not marked]
    assert not problems, "\n".join(problems)


def test_the_check_sees_long_functions_and_marks(tmp_path):
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_LINES))
    src = (f"def short():\n    return 1\n\n\ndef unmarked():\n{body}\n\n"
           f"# long: a reason\ndef marked():\n{body}\n\n"
           f"# long: above the decorator\n@staticmethod\ndef decorated():\n{body}\n\n"
           f"@staticmethod\n# long: between decorator and def does not count\ndef misplaced():\n"
           f"{body}\n\n#long:no space\ndef sloppy():\n{body}\n\n"
           f"class C:\n    # long: a method\n    def method(self):\n"
           + "".join(f"        y{i} = {i}\n" for i in range(MAX_LINES)))
    path = tmp_path / "mod.py"
    path.write_text(src)
    found = {name: marked for _line, name, _n, marked in long_functions(path)}
    assert found == {"unmarked": False, "marked": True, "decorated": True, "misplaced": False,
                     "sloppy": False, "method": True}
    exact = tmp_path / "exact.py"  # def line plus 79 body lines: 80, allowed
    exact.write_text("def f():\n" + "".join(f"    x{i} = {i}\n" for i in range(MAX_LINES - 1)))
    assert long_functions(exact) == []
