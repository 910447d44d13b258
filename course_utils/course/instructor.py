"""Tools for instructors: student and solution copies, one copy per reading path, badges for a fork.

Command line: ``python -m course_utils student|solutions|paths|badges``; ``make course`` builds the copies too.
Nothing here is edited by hand in the generated copies: regenerate them instead.

A path copy (``paths``) keeps the cells of its path, every code cell tagged ``shows-output``, and every code
cell that binds a Python or R name a kept cell needs (:func:`path_cells`); ``make test-paths`` runs the
essentials copies under nbval.
"""

from __future__ import annotations

import ast
import copy
import os
import re
import shlex
from pathlib import Path

import nbformat

from . import notebook_tools as nt

SOLUTION_TAG = "solution"
PLACEHOLDER = "# ✏️ Exercise: write your solution here (the solution is in the instructor's copy).\n"
#: each path keeps its own cells and those of the lighter paths (defined in notebook_tools.PATHS)
PATH_TIERS = nt.PATHS


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def _write(nb: nbformat.NotebookNode, path: Path) -> Path:
    nbformat.validate(nb)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def student_copy(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose ``solution`` cells are replaced by an empty exercise cell of the same tier."""
    out = copy.deepcopy(nb)
    for i, c in enumerate(out.cells):
        if SOLUTION_TAG in c.metadata.get("tags", []):
            tier = nt.tier_of(c)[0]
            placeholder = nbformat.v4.new_code_cell(PLACEHOLDER)
            placeholder.metadata["tags"] = [tier, "exercise"]
            placeholder["id"] = c.get("id", f"cell-{i:03d}")
            out.cells[i] = placeholder
    return out


def write_student(folder: str | Path, out: str | Path, *, solutions: bool = False) -> list[Path]:
    """Write every notebook of ``folder`` to ``out``: student copies, or (``solutions=True``) complete ones.

    Relative links to files next to the notebooks (``../figures/…``) are rewritten to work from ``out``.
    """
    sources = nt.notebooks(folder)
    names = {p.name for p in sources}
    return [
        _write(
            relink(_read(p) if solutions else student_copy(_read(p)), p.parent, out, names),
            Path(out) / p.name,
        )
        for p in sources
    ]


# ------------------------------------------------------------------------------------------ reading paths
# A path copy keeps the cells of its path and every code cell they need to run. "Need" is found from names:
# each code cell binds some names and reads others, in one of two namespaces — Python's (the kernel's user
# namespace) and R's (rpy2's global environment, shared by every `%%R` cell). A name is a pair
# (namespace, identifier), e.g. ("py", "table") or ("r", "d"). `%%R -i x` reads ("py", "x") and binds
# ("r", "x"); `%%R -o y` reads ("r", "y") after the cell's R code and binds ("py", "y"). A `%%R` cell also
# reads ("magic", "R"), which the cell that calls `setup_r(` (or `%load_ext rpy2.ipython`) binds.
PY, R, MAGIC = "py", "r", "magic"
SHOWS_OUTPUT_TAG = "shows-output"  #: a code cell whose output kept prose describes: kept in every path
DEPENDENCY_TAG = "path-dependency"  #: added, in a path copy, to a cell kept only because a kept cell needs it
R_MAGIC_PROVIDER = re.compile(r"\bsetup_r\s*\(|%load_ext\s+rpy2\.ipython|load_ipython_extension\s*\(")
#: methods that change the object they are called on: ``xs.append(1)`` counts as binding ``xs`` anew
MUTATING_METHODS = frozenset(
    {
        "append",
        "extend",
        "insert",
        "update",
        "add",
        "discard",
        "remove",
        "pop",
        "clear",
        "setdefault",
        "sort",
        "reverse",
        "popitem",
    }
)
# rpy2's %R/%%R options (rpy2/ipython/rmagic.py): those that take a value, and the flags that do not
_R_VALUE_OPTIONS = {
    "-i": "input",
    "--input": "input",
    "-o": "output",
    "--output": "output",
    "-w": "",
    "--width": "",
    "-h": "",
    "--height": "",
    "-p": "",
    "--pointsize": "",
    "-b": "",
    "--bg": "",
    "-u": "",
    "--units": "",
    "-r": "",
    "--res": "",
    "--type": "",
    "--graphics-device": "",
    "-c": "",
    "--converter": "",
    "-d": "",
    "--display": "",
}
_R_FLAGS = {"-n", "--noreturn", "--noisolation"}

Name = tuple[str, str]


class RSyntaxError(ValueError):
    """R code that the small R parser of :func:`r_names` cannot read."""


_R_TOKEN = re.compile(
    r"""
    (?P<nl>\n) | (?P<ws>[ \t\r\f]+) | (?P<comment>\#[^\n]*)
  | (?P<raw>[rR](?P<q>["'])(?P<dash>-*)(?P<open>[(\[{]))
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<tick>`(?:[^`\\]|\\.)*`)
  | (?P<num>0[xX][0-9a-fA-F]+[Li]?|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[Li]?)
  | (?P<sym>(?:[^\W\d_]|\.(?!\d))[\w.]*)
  | (?P<op>%[^%\n]*%|<<-|->>|\|>|<-|->|<=|>=|==|!=|&&|\|\||:::|::|\[\[|[-+*/^<>!&|~?:=$@()\[\]{},;\\])
""",
    re.X | re.S,
)
_R_CONSTANTS = {
    "TRUE",
    "FALSE",
    "NULL",
    "Inf",
    "NaN",
    "NA",
    "NA_integer_",
    "NA_real_",
    "NA_character_",
    "NA_complex_",
    "next",
    "break",
}
_R_KEYWORDS = {"if", "else", "repeat", "while", "function", "for", "in"}
# binding powers (R's ?Syntax, loosest first); right-associative operators parse their right side at the same power
_R_INFIX = {
    "?": (1, "left"),
    "=": (2, "right"),
    "<-": (3, "right"),
    "<<-": (3, "right"),
    "->": (4, "left"),
    "->>": (4, "left"),
    "~": (5, "left"),
    "||": (6, "left"),
    "|": (6, "left"),
    "&&": (7, "left"),
    "&": (7, "left"),
    "==": (9, "left"),
    "!=": (9, "left"),
    "<": (9, "left"),
    ">": (9, "left"),
    "<=": (9, "left"),
    ">=": (9, "left"),
    "+": (10, "left"),
    "-": (10, "left"),
    "*": (11, "left"),
    "/": (11, "left"),
    "|>": (12, "left"),
    ":": (13, "left"),
    "^": (15, "right"),
}
_R_PREFIX = {"-": 14, "+": 14, "!": 8, "~": 5, "?": 1}
_R_POSTFIX = 16  # calls f(), indexing x[ ] x[[ ]], members x$a x@a


def _r_tokens(code: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    while pos < len(code):
        m = _R_TOKEN.match(code, pos)
        if not m:
            raise RSyntaxError(f"unexpected character {code[pos]!r} in R code at offset {pos}")
        kind = m.lastgroup if m.lastgroup not in ("q", "dash", "open") else "raw"
        if m.group("raw"):
            close = {"(": ")", "[": "]", "{": "}"}[m.group("open")] + m.group("dash") + m.group("q")
            end = code.find(close, m.end())
            if end < 0:
                raise RSyntaxError(f"unterminated raw string in R code at offset {pos}")
            tokens.append(("str", code[m.end() : end]))
            pos = end + len(close)
            continue
        text = m.group()
        if kind == "sym" and text in _R_KEYWORDS:
            tokens.append(("kw", text))
        elif kind == "sym" and text in _R_CONSTANTS:
            tokens.append(("const", text))
        elif kind == "tick":
            tokens.append(("sym", text[1:-1]))
        elif kind == "str":
            tokens.append(("str", text[1:-1]))
        elif kind in ("nl", "sym", "num", "op"):
            tokens.append((kind, text))
        pos = m.end()
    tokens.append(("eof", ""))
    return tokens


class _RParser:
    """A small Pratt parser for R, enough to find the names a cell binds and reads.

    Nodes are tuples: ("sym", name), ("const",), ("str", text), ("call", fn, [(arg_name, expr)]),
    ("index", obj, args), ("member", obj), ("ns",), ("op", operand, …), ("assign", op, target, value),
    ("function", [(formal, default)], body), ("for", var, seq, body), ("block", [expr, …]).
    """

    def __init__(self, code: str):
        self.tokens = _r_tokens(code)
        self.i = 0
        self.newline_ends = [True]  # newlines end an expression at top level and in { }, not in ( ) or [ ]

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.i]

    def next(self) -> tuple[str, str]:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def skip_newlines(self) -> None:
        while self.peek()[0] == "nl":
            self.i += 1

    def expect(self, text: str) -> None:
        if not self.newline_ends[-1]:
            self.skip_newlines()
        kind, got = self.next()
        if got != text or kind not in ("op", "kw"):
            raise RSyntaxError(f"expected {text!r} in R code, found {got or 'the end'!r}")

    def program(self) -> list:
        return self.statements(end="eof")

    def statements(self, end: str) -> list:
        out = []
        while True:
            while self.peek()[0] == "nl" or self.peek() == ("op", ";"):
                self.i += 1
            if (end == "eof" and self.peek()[0] == "eof") or self.peek() == ("op", end):
                self.next()
                return out
            if self.peek()[0] == "eof":
                raise RSyntaxError("R code ends inside a { } block")
            out.append(self.expr(0))
            kind, text = self.peek()
            if not (kind in ("nl", "eof") or text in (";", end)):
                raise RSyntaxError(f"unexpected {text!r} after an R expression")

    def nested(self, newline_ends: bool, parse):
        self.newline_ends.append(newline_ends)
        try:
            return parse()
        finally:
            self.newline_ends.pop()

    def expr(self, min_bp: int):
        left = self.prefix()
        while True:
            kind, text = self.peek()
            if kind == "nl":
                if self.newline_ends[-1]:
                    return left
                self.skip_newlines()
                continue
            if kind == "op" and text in ("(", "[", "[[", "$", "@") and _R_POSTFIX >= min_bp:
                left = self.postfix(left)
                continue
            infix = _R_INFIX.get(text) if kind == "op" else None
            if text.startswith("%") and kind == "op":
                infix = (12, "left")
            if infix is None or infix[0] < min_bp:
                return left
            self.next()
            bp, assoc = infix
            right = self.expr(bp if assoc == "right" else bp + 1)
            if text in ("<-", "<<-", "="):
                left = ("assign", text, left, right)
            elif text in ("->", "->>"):
                left = ("assign", "<<-" if text == "->>" else "<-", right, left)
            elif text.startswith("%"):  # a %op% is a call of the function named `%op%`
                left = ("op", left, ("sym", text), right)
            else:
                left = ("op", left, right)

    def postfix(self, left):
        kind, text = self.next()
        if text in ("$", "@"):
            self.skip_newlines()
            kind, _ = self.next()
            if kind not in ("sym", "str", "const", "kw"):
                raise RSyntaxError(f"a name must follow {text!r} in R code")
            return ("member", left)
        close = {"(": [")"], "[": ["]"], "[[": ["]", "]"]}[text]
        args = self.nested(False, lambda: self.arguments(close[0]))
        for extra in close[1:]:
            self.expect(extra)
        return ("call", left, args) if text == "(" else ("index", left, args)

    def arguments(self, close: str) -> list:
        args = []
        while True:
            self.skip_newlines()
            if self.peek() == ("op", close):
                self.next()
                return args
            if self.peek() == ("op", ","):
                self.next()
                args.append((None, None))
                continue
            name = None
            if self.peek()[0] in ("sym", "str", "const") and self.tokens[self.i + 1] == ("op", "="):
                name = self.next()[1]
                self.next()
                self.skip_newlines()
            value = None if self.peek() in (("op", ","), ("op", close)) else self.expr(3)
            args.append((name, value))
            self.skip_newlines()
            if self.peek() == ("op", ","):
                self.next()
            elif self.peek() != ("op", close):
                raise RSyntaxError(
                    f"expected ',' or {close!r} in R code, found {self.peek()[1] or 'the end'!r}"
                )

    def prefix(self):
        self.skip_newlines()
        kind, text = self.next()
        if kind in ("num", "const"):
            return ("const",)
        if kind == "str":
            if self.peek() in (("op", "::"), ("op", ":::")):
                self.next()
                self.next()
                return ("ns",)
            return ("str", text)
        if kind == "sym":
            if self.peek() in (("op", "::"), ("op", ":::")):
                self.next()
                if self.next()[0] not in ("sym", "str"):
                    raise RSyntaxError(f"a name must follow {text}:: in R code")
                return ("ns",)
            return ("sym", text)
        if kind == "op" and text == "(":
            inner = self.nested(False, lambda: self.expr(0))
            self.expect(")")
            return ("op", inner)
        if kind == "op" and text == "{":
            return ("block", self.nested(True, lambda: self.statements(end="}")))
        if kind == "op" and text in _R_PREFIX:
            return ("op", self.expr(_R_PREFIX[text]))
        if (kind, text) in (("kw", "function"), ("op", "\\")):
            self.expect("(")
            formals = self.nested(False, self.formals)
            return ("function", formals, self.expr(0))
        if kind == "kw" and text in ("if", "while"):
            self.expect("(")
            cond = self.nested(False, lambda: self.expr(0))
            self.expect(")")
            body = self.expr(0)
            if text == "while":
                return ("op", cond, body)
            j = self.i
            while self.tokens[j][0] == "nl":
                j += 1
            if self.tokens[j] == ("kw", "else"):
                self.i = j + 1
                return ("op", cond, body, self.expr(0))
            return ("op", cond, body)
        if kind == "kw" and text == "repeat":
            return ("op", self.expr(0))
        if kind == "kw" and text == "for":
            self.expect("(")
            var, seq = self.nested(False, self.for_header)
            self.expect(")")
            return ("for", var, seq, self.expr(0))
        raise RSyntaxError(f"unexpected {text or 'end of the code'!r} in R code")

    def for_header(self):
        self.skip_newlines()
        kind, var = self.next()
        if kind != "sym":
            raise RSyntaxError("for (…) needs a variable name in R code")
        self.expect("in")
        return var, self.expr(0)

    def formals(self) -> list:
        out = []
        while True:
            self.skip_newlines()
            kind, text = self.next()
            if (kind, text) == ("op", ")"):
                return out
            if kind != "sym":
                raise RSyntaxError(f"unexpected {text!r} among a function's arguments in R code")
            default = None
            self.skip_newlines()
            if self.peek() == ("op", "="):
                self.next()
                default = self.expr(3)
            out.append((text, default))
            self.skip_newlines()
            if self.peek() == ("op", ","):
                self.next()


_R_NO_NAMES = {"library", "require", "requireNamespace", "loadNamespace", "suppressPackageStartupMessages"}


class _RNames:
    """Walks an R parse tree in evaluation order: names bound in the global environment, names read before
    this cell binds them (free names), and the names each global function reads when it is called.

    Inside ``function`` bodies, formals and local assignments hide global names; ``<<-`` binds globally. The
    free names of a function bound at top level (``f <- function(…) …``) are read when ``f`` is called, not
    when it is defined: they go to ``deferred[f]`` (a call of ``f`` later in the same cell reads them).
    Column names in formulas and dplyr verbs count as read (R cannot tell them apart without running the
    code), which can only keep a cell too many, never one too few."""

    def __init__(self):
        self.defined: set[str] = set()
        self.used: set[str] = set()
        self.deferred: dict[str, set[str]] = {}
        self.owner: list[str] = []  # the global function whose body is being read

    def read(self, name: str, local: set[str] | None) -> None:
        if local is not None and name in local:
            return
        if self.owner:
            self.deferred[self.owner[0]].add(name)
        elif (
            name in self.defined
        ):  # bound earlier in the cell; calling a function of this cell reads its names
            self.used |= self.deferred.get(name, set()) - self.defined
        else:
            self.used.add(name)

    def bind(self, name: str, local: set[str] | None, op: str = "<-") -> None:
        if local is None or op == "<<-":
            self.defined.add(name)
            if not self.owner:
                self.deferred.pop(name, None)
        else:
            local.add(name)

    def visit(self, node, local: set[str] | None = None) -> None:
        if node is None:
            return
        kind = node[0]
        if kind == "sym":
            self.read(node[1], local)
        elif kind == "assign":
            _, op, target, value = node
            if value[0] == "function" and target[0] in ("sym", "str") and local is None and not self.owner:
                self.deferred[target[1]] = set()
                self.owner.append(target[1])
                try:
                    self.visit(value, local)
                finally:
                    self.owner.pop()
                self.defined.add(target[1])
                return
            self.visit(value, local)
            if target[0] in ("sym", "str"):
                self.bind(target[1], local, op)
            else:  # x$a <- v, x[i] <- v, names(x) <- v: x is read, changed and bound anew
                base = self.target_base(target, local)
                if base is not None:
                    self.read(base, local)
                    self.bind(base, local, op)
        elif kind == "call":
            _, fn, args = node
            name = fn[1] if fn[0] == "sym" else None
            if name in _R_NO_NAMES:
                for _arg_name, value in args:
                    if value is not None and value[0] not in ("sym", "str"):
                        self.visit(value, local)
                return
            self.visit(fn, local)
            for i, (_arg_name, value) in enumerate(args):
                if i == 0 and name == "assign" and value is not None and value[0] == "str":
                    continue
                if i == 0 and name in ("get", "exists", "get0") and value is not None and value[0] == "str":
                    self.read(value[1], local)
                    continue
                self.visit(value, local)
            if name == "assign" and args and args[0][1] is not None and args[0][1][0] == "str":
                self.bind(args[0][1][1], None)
        elif kind == "index":
            self.visit(node[1], local)
            for _, value in node[2]:
                self.visit(value, local)
        elif kind == "member":
            self.visit(node[1], local)
        elif kind == "function":
            _, formals, body = node
            inner = set(local or ()) | {name for name, _ in formals}
            for _, default in formals:
                self.visit(default, inner)
            self.visit(body, inner)
        elif kind == "for":
            _, var, seq, body = node
            self.visit(seq, local)
            self.bind(var, local)
            self.visit(body, local)
        elif kind == "block":
            for child in node[1]:
                self.visit(child, local)
        elif kind == "op":
            for child in node[1:]:
                self.visit(child, local)

    def target_base(self, target, local) -> str | None:
        """The variable an R replacement changes: x in ``x$a``, ``x[i]``, ``names(x)``, ``levels(x$f)``."""
        kind = target[0]
        if kind in ("sym", "str"):
            return target[1]
        if kind == "member":
            return self.target_base(target[1], local)
        if kind == "index":
            for _, value in target[2]:
                self.visit(value, local)
            return self.target_base(target[1], local)
        if kind == "call" and target[2]:
            for _, value in target[2][1:]:
                self.visit(value, local)
            first = target[2][0][1]
            return None if first is None else self.target_base(first, local)
        if kind == "op" and len(target) == 2:
            return self.target_base(target[1], local)
        return None


def _r_analyse(code: str) -> _RNames:
    if not isinstance(code, str):
        raise TypeError(f"code must be a str of R code, got {type(code).__name__}")
    walker = _RNames()
    for statement in _RParser(code).program():
        walker.visit(statement)
    return walker


def r_names(code: str) -> tuple[set[str], set[str]]:
    """R names that ``code`` binds in R's global environment and the names it reads before binding them.

    Bindings: ``x <- …``, ``x = …`` (at statement level, not ``f(x = …)``), ``… -> x``, ``x <<- …``,
    ``assign("x", …)``, ``for (x in …)``, and replacements ``x$a <- …``/``names(x) <- …`` (which also read
    ``x``). Reads: every other symbol, except argument names, ``pkg::name``, ``x$member`` and the package of
    ``library(pkg)``. Function formals and a function's local variables are not global names; the global
    names a function reads count as read here (path copies resolve them where the function is called).

    Raises:
        TypeError: ``code`` is not a str.
        RSyntaxError (a ValueError): when the small parser cannot read ``code``; the message says where.
    """
    walker = _r_analyse(code)
    return walker.defined, walker.used | (set().union(*walker.deferred.values()) - walker.defined)


def _split_names(values: list[str]) -> list[str]:
    return [v for value in values for v in value.split(",") if v]


def _r_magic_names(line: str, code: str) -> tuple[set[Name], set[Name], dict[Name, set[Name]]]:
    """Names bound and read by ``%%R <line>`` with cell body ``code`` (or ``%R <line>``, code in the line),
    and the names the R functions it binds read when called.

    ``-i a,b`` (also ``-i r_name=py_name`` and ``-i module.attr``) reads Python names and binds them in R
    before the code runs; ``-o y`` reads R names after it and binds them in Python.
    """
    try:
        args = shlex.split(line)
    except ValueError:
        args = line.split()
    found: dict[str, list[str]] = {"input": [], "output": []}
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        option, _, attached = arg.partition("=") if arg.startswith("--") else (arg[:2], "", arg[2:])
        if arg in _R_FLAGS:
            i += 1
        elif option in _R_VALUE_OPTIONS and (attached or i + 1 < len(args)):
            value = attached or args[i + 1]
            if _R_VALUE_OPTIONS[option]:
                found[_R_VALUE_OPTIONS[option]].append(value)
            i += 1 if attached else 2
        else:
            rest = args[i:]
            break
    defined: set[Name] = set()
    used: set[Name] = {(MAGIC, "R")}
    for item in _split_names(found["input"]):
        r_name, _, py_name = item.partition("=") if "=" in item else (item, "", item)
        used.add((PY, py_name.split(".")[0]))
        defined.add((R, r_name.split(".")[-1]))
    body = _r_analyse("\n".join(filter(None, [" ".join(rest), code])))
    used |= {(R, n) for n in body.used - {n for kind, n in defined}}
    defined |= {(R, n) for n in body.defined}
    for item in _split_names(found["output"]):
        if item not in body.defined and (R, item) not in defined:
            used.add((R, item))
        defined.add((PY, item))
    deferred = {(R, f): {(R, n) for n in names} for f, names in body.deferred.items()}
    return defined, used, deferred


class _PythonNames(ast.NodeVisitor):
    """Walks a Python cell in evaluation order: names bound at module level, and names read before the cell
    binds them. Function, lambda, class and comprehension scopes hide their own names. ``x[i] = …``,
    ``x.a = …``, ``x += …`` and ``x.append(…)`` (:data:`MUTATING_METHODS`, or ``inplace=True``) change ``x``:
    they read it and bind it anew. IPython magics (after IPython's TransformerManager) are followed into:
    ``%%R``/``%R``/``%Rpush``/``%Rpull`` by their R names, ``%%time``/``%%capture``/``%time``… by the code
    they run.

    The global names a module-level function (``def f``, ``f = lambda …``, or a method of class ``f``)
    reads are read when ``f`` is called, not defined: they go to ``deferred[("py", "f")]``."""

    def __init__(self):
        self.defined: set[Name] = set()
        self.used: set[Name] = set()
        self.deferred: dict[Name, set[Name]] = {}
        self.scopes: list[set[str]] = []
        self.globals: list[set[str]] = []
        self.owner: list[Name] = []  # the module-level function or class whose (method) body is being read
        self.class_key: Name | None = None  # the module-level class whose body is being read

    # -- names
    def load(self, name: str) -> None:
        if any(name in scope for scope in self.scopes):
            return
        if self.owner:
            self.deferred[self.owner[0]].add((PY, name))
        elif (PY, name) in self.defined:  # bound earlier in the cell; using a function of it reads its names
            self.used |= self.deferred.get((PY, name), set()) - self.defined
        else:
            self.used.add((PY, name))

    def store(self, name: str) -> None:
        if self.scopes and name not in self.globals[-1]:
            self.scopes[-1].add(name)
        else:
            self.defined.add((PY, name))
            if not self.owner:
                self.deferred.pop((PY, name), None)

    def at_top(self) -> bool:
        return not self.scopes and not self.owner

    def owned(self, key: Name, names: set[str], body: list[ast.AST]) -> None:
        """Read ``body`` (in a scope binding ``names``) as the body of module-level function ``key``."""
        self.deferred[key] = set()
        self.owner.append(key)
        try:
            self.scoped(names, body)
        finally:
            self.owner.pop()

    def change(self, node: ast.AST) -> None:
        """``node`` (x in x[i], x.a, x.b[c]) is changed in place: read and rebound at module level."""
        while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
            node = node.value
        if isinstance(node, ast.Name):
            self.load(node.id)
            if not self.scopes:  # inside a function, a change happens only when it is called
                self.store(node.id)

    def merge(self, defined: set[Name], used: set[Name], deferred: dict[Name, set[Name]]) -> None:
        self.used |= used - self.defined
        self.defined |= defined
        self.deferred.update(deferred)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store):
            self.store(node.id)
        else:  # Load, and Del (which needs the name to exist)
            self.load(node.id)

    def target(self, node: ast.AST) -> None:
        if isinstance(node, (ast.Attribute, ast.Subscript)):
            self.visit(node.value)
            if isinstance(node, ast.Subscript):
                self.visit(node.slice)
            self.change(node)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for elt in node.elts:
                self.target(elt)
        elif isinstance(node, ast.Starred):
            self.target(node.value)
        else:
            self.visit(node)

    # -- statements, in the order Python evaluates them
    def visit_Assign(self, node: ast.Assign) -> None:
        if (
            isinstance(node.value, ast.Lambda)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and self.at_top()
        ):  # f = lambda …: a module-level function
            self.visit_arguments_outside(node.value.args)
            self.store(node.targets[0].id)
            self.owned((PY, node.targets[0].id), self.arg_names(node.value.args), [node.value.body])
            return
        self.visit(node.value)
        for t in node.targets:
            self.target(t)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.visit(node.annotation)
        if node.value is not None:
            self.visit(node.value)
            self.target(node.target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self.load(node.target.id)
            self.store(node.target.id)
        else:
            self.target(node.target)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self.target(node.target)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self.target(node.target)
        for stmt in node.body + node.orelse:
            self.visit(stmt)

    visit_AsyncFor = visit_For

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self.target(item.optional_vars)
        for stmt in node.body:
            self.visit(stmt)

    visit_AsyncWith = visit_With

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name != "*":
                self.store(alias.asname or alias.name.split(".")[0])

    visit_ImportFrom = visit_Import

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self.store(node.name)
        for stmt in node.body:
            self.visit(stmt)

    def visit_Global(self, node: ast.Global) -> None:
        if self.globals:
            self.globals[-1].update(node.names)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.pattern is not None:
            self.visit(node.pattern)
        if node.name:
            self.store(node.name)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self.store(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        self.generic_visit(node)
        if node.rest:
            self.store(node.rest)

    # -- scopes
    def scoped(self, names: set[str], body: list[ast.AST]) -> None:
        self.scopes.append(set(names))
        self.globals.append(set())
        try:
            for child in body:
                self.visit(child)
        finally:
            self.scopes.pop()
            self.globals.pop()

    @staticmethod
    def arg_names(args: ast.arguments) -> set[str]:
        every = args.posonlyargs + args.args + args.kwonlyargs + [a for a in (args.vararg, args.kwarg) if a]
        return {a.arg for a in every}

    def visit_arguments_outside(self, args: ast.arguments) -> None:
        for default in args.defaults + [d for d in args.kw_defaults if d is not None]:
            self.visit(default)
        for a in args.posonlyargs + args.args + args.kwonlyargs + [a for a in (args.vararg, args.kwarg) if a]:
            if a.annotation is not None:
                self.visit(a.annotation)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for deco in node.decorator_list:
            self.visit(deco)
        self.visit_arguments_outside(node.args)
        if node.returns is not None:
            self.visit(node.returns)
        top, method = self.at_top(), not self.owner and self.class_key is not None and len(self.scopes) == 1
        self.store(node.name)
        if top:
            self.owned((PY, node.name), self.arg_names(node.args), node.body)
        elif method:  # a method of a module-level class: read when the class is used
            self.owner.append(self.class_key)
            try:
                self.scoped(self.arg_names(node.args), node.body)
            finally:
                self.owner.pop()
        else:
            self.scoped(self.arg_names(node.args), node.body)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self.visit_arguments_outside(node.args)
        self.scoped(self.arg_names(node.args), [node.body])

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for child in node.decorator_list + node.bases + [k.value for k in node.keywords]:
            self.visit(child)
        if not self.at_top():
            self.scoped(set(), node.body)
            self.store(node.name)
            return
        key, saved = (PY, node.name), self.class_key
        self.class_key, self.deferred[key] = key, set()
        try:
            self.scoped(set(), node.body)
        finally:
            self.class_key = saved
        methods = self.deferred.pop(key)
        self.store(node.name)
        self.deferred[key] = methods

    def comprehension(self, node, results: list[ast.AST]) -> None:
        self.scopes.append(set())
        self.globals.append(set())
        try:
            for gen in node.generators:
                self.visit(gen.iter)
                self.target(gen.target)
                for cond in gen.ifs:
                    self.visit(cond)
            for result in results:
                self.visit(result)
        finally:
            self.scopes.pop()
            self.globals.pop()

    def visit_ListComp(self, node) -> None:
        self.comprehension(node, [node.elt])

    visit_SetComp = visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self.comprehension(node, [node.key, node.value])

    # -- calls: mutating methods and IPython magics
    def visit_Call(self, node: ast.Call) -> None:
        magic = self.magic_call(node)
        if magic is not None:
            if not self.owner:
                self.merge(*magic)
            return
        self.generic_visit(node)
        func = node.func
        inplace = any(
            k.arg == "inplace" and isinstance(k.value, ast.Constant) and k.value.value is True
            for k in node.keywords
        )
        if isinstance(func, ast.Attribute) and (func.attr in MUTATING_METHODS or inplace):
            self.change(func.value)

    @staticmethod
    def magic_call(node: ast.Call) -> tuple[set[Name], set[Name], dict[Name, set[Name]]] | None:
        """Names of ``get_ipython().run_cell_magic(name, line, body)`` / ``run_line_magic(name, line)``."""
        func = node.func
        if not (
            isinstance(func, ast.Attribute)
            and func.attr in ("run_cell_magic", "run_line_magic")
            and isinstance(func.value, ast.Call)
            and isinstance(func.value.func, ast.Name)
            and func.value.func.id == "get_ipython"
        ):
            return None
        args = [
            a.value if isinstance(a, ast.Constant) and isinstance(a.value, str) else None for a in node.args
        ]
        if len(args) < 2 or None in args:
            return set(), set(), {}
        name, line = args[0], args[1]
        body = args[2] if func.attr == "run_cell_magic" and len(args) > 2 else None
        if name == "R":
            return _r_magic_names(line, body or "")
        if name == "Rpush":
            return (
                {(R, n) for n in line.split()},
                {(MAGIC, "R")} | {(PY, n.split(".")[0]) for n in line.split()},
                {},
            )
        if name == "Rpull":
            return {(PY, n) for n in line.split()}, {(MAGIC, "R")} | {(R, n) for n in line.split()}, {}
        if name == "load_ext" and "rpy2.ipython" in line:
            return {(MAGIC, "R")}, set(), {}
        defined: set[Name] = set()
        if body is not None:  # %%time, %%capture out, %%timeit …: the body is Python
            code = body
            if name == "capture":
                words = [w for w in line.split() if not w.startswith("-")]
                defined |= {(PY, w) for w in words[:1]}
        elif name in ("time", "timeit", "prun"):
            code = " ".join(w for w in line.split() if not w.startswith("-")) if name == "timeit" else line
        else:
            return set(), set(), {}
        inner_defined, inner_used, inner_deferred = _python_analyse(code)
        return defined | inner_defined, inner_used, inner_deferred


#: ``files = !ls data``: a shell command's output assigned to a name (IPython's ``SystemAssign``)
_SHELL_ASSIGN = re.compile(
    r"^(?P<indent>[ \t]*)(?P<target>[A-Za-z_][\w.]*(?:[ \t]*,[ \t]*[A-Za-z_][\w.]*)*)"
    r"[ \t]*=[ \t]*!(?P<command>.*)$",
    re.M,
)


def _python_analyse(source: str) -> tuple[set[Name], set[Name], dict[Name, set[Name]]]:
    from IPython.core.inputtransformer2 import TransformerManager

    code = TransformerManager().transform_cell(source)
    try:
        tree = ast.parse(code)
    except SyntaxError:  # IPython 7 (Colab's 7.34) leaves ``x = !cmd`` as it is; IPython 8 translates it
        translated = _SHELL_ASSIGN.sub(
            lambda m: f"{m['indent']}{m['target']} = get_ipython().getoutput({m['command']!r})", code
        )
        if translated == code:
            raise
        tree = ast.parse(translated)
    walker = _PythonNames()
    walker.visit(tree)
    defined = walker.defined | ({(MAGIC, "R")} if R_MAGIC_PROVIDER.search(source) else set())
    return defined, walker.used, walker.deferred


def python_names(source: str) -> tuple[set[Name], set[Name]]:
    """Namespaced names a Python cell (IPython syntax allowed) binds and reads before binding them.

    The global names a function of the cell reads count as read (:func:`notebook_needs` is more precise: it
    counts them where the function is used).

    Returns:
        (defined, used): sets of (namespace, name) pairs, namespace "py", "r" (R objects, from ``%%R``
        cells and ``%R``/``%Rpush``/``%Rpull``) or "magic" (("magic", "R"): the ``%%R`` magic itself).

    Raises:
        SyntaxError: when the cell is not valid Python after IPython's translation of magics.
        RSyntaxError: when a ``%%R`` cell's R code cannot be read.
    """
    defined, used, deferred = _python_analyse(source)
    return defined, used | (set().union(*deferred.values()) - defined)


def cell_names(cell: nbformat.NotebookNode) -> tuple[set[Name], set[Name]]:
    """(defined, used) namespaced names of a notebook cell (:func:`python_names`); markdown binds nothing.

    Raises:
        TypeError: ``cell`` is not a notebook cell.
        ValueError: the code cannot be read (Python or R); the message names the cell's first line.
    """
    defined, used, deferred = _cell_analysis(cell)
    return defined, used | (set().union(*deferred.values()) - defined)


def _cell_analysis(cell: nbformat.NotebookNode) -> tuple[set[Name], set[Name], dict[Name, set[Name]]]:
    if not isinstance(cell, dict) or "cell_type" not in cell:
        raise TypeError(f"cell must be a notebook cell (nbformat.NotebookNode), got {type(cell).__name__}")
    if cell["cell_type"] != "code":
        return set(), set(), {}
    try:
        return _python_analyse(cell["source"])
    except (SyntaxError, RSyntaxError) as exc:
        first = cell["source"].strip().splitlines()[0] if cell["source"].strip() else ""
        raise ValueError(
            f"cannot find the names of the code cell starting {first[:60]!r}: {exc}; fix the cell's "
            "syntax (path copies follow names to keep the cells a kept cell needs)"
        ) from exc


def names_defined_and_used(source: str) -> tuple[set[str], set[str]]:
    """The Python names a code cell binds and reads (the "py" part of :func:`python_names`).

    ``%%R -i a -o b`` reads Python's ``a`` and binds Python's ``b``. Unparsable cells bind and read nothing.
    """
    try:
        defined, used = python_names(source)
    except (SyntaxError, RSyntaxError):
        return set(), set()
    return {n for kind, n in defined if kind == PY}, {n for kind, n in used if kind == PY}


def notebook_needs(cells: list[nbformat.NotebookNode]) -> list[tuple[set[Name], set[Name]]]:
    """For each cell, in order: (names it binds, names it needs bound before it runs).

    A cell needs the names it reads (:func:`python_names`), except that a function's global names are needed
    where the function is used: a cell that reads ``f`` needs the names that the body of the latest ``f``
    before it reads (Python ``def``/``lambda``/class methods, R ``f <- function…``), and theirs in turn.

    Raises:
        TypeError, ValueError: as :func:`cell_names`.
    """
    current: dict[Name, set[Name]] = {}  # the names each function, as last bound, reads when called
    out = []
    for c in cells:
        defined, used, deferred = _cell_analysis(c)
        needs, frontier = set(used), list(used)
        while frontier:
            for name in current.get(frontier.pop(), ()):
                if name not in needs:
                    needs.add(name)
                    frontier.append(name)
        out.append((defined, needs))
        for name in defined:  # rebinding to a non-function forgets; changing a function (f.x = 1) keeps
            current[name] = (
                deferred[name] if name in deferred else current.get(name, set()) if name in used else set()
            )
    return out


def path_cells(nb: nbformat.NotebookNode, path: str) -> list[tuple[int, str]]:
    """Which cells of ``nb`` the copy for reading ``path`` keeps, and why.

    Returns:
        (index, reason) pairs in notebook order; reason is "path" (a cell of the path: its tier is one of
        ``PATH_TIERS[path]``, or it is the title or setup cell), "shows-output" (a code cell tagged
        :data:`SHOWS_OUTPUT_TAG`) or "dependency" (a code cell of a deeper tier that binds a name — Python or R,
        see :func:`python_names` — that a kept cell after it reads, followed transitively).

    Raises:
        TypeError: ``nb`` is not a notebook. ValueError: ``path`` is not a reading path, or a code cell
        cannot be parsed.
    """
    if not isinstance(nb, dict) or "cells" not in nb:
        raise TypeError(f"nb must be a notebook (nbformat.NotebookNode), got {type(nb).__name__}")
    if path not in PATH_TIERS:
        raise ValueError(f"path {path!r} is not one of {list(PATH_TIERS)}")
    cells = nb["cells"]
    tiers = set(PATH_TIERS[path])
    reason: list[str | None] = [
        "path"
        if i < 2 or set(nt.tier_of(c)) & tiers
        else "shows-output"
        if c["cell_type"] == "code" and SHOWS_OUTPUT_TAG in c.get("metadata", {}).get("tags", [])
        else None
        for i, c in enumerate(cells)
    ]
    analysed = notebook_needs(cells)
    needed: set[Name] = set()
    for i in range(len(cells) - 1, -1, -1):  # one backward pass: a kept cell's needs are met by earlier cells
        defined, used = analysed[i]
        if reason[i] is None and defined & needed:
            reason[i] = "dependency"
        if reason[i] is not None:
            needed = (needed - defined) | used
    return [(i, r) for i, r in enumerate(reason) if r is not None]


def path_copy(nb: nbformat.NotebookNode, path: str) -> nbformat.NotebookNode:
    """The cells of reading ``path`` plus every other code cell they need to run (setup included).

    Paths are layers: essentials ⊂ practitioner ⊂ deep-dive (:data:`PATH_TIERS`). Kept besides the path's own
    cells: every code cell tagged ``shows-output`` (its output is described by prose), and every code cell
    that binds a Python or R name a kept cell reads, transitively (:func:`path_cells`). Cells kept only as a
    dependency get the tag ``path-dependency`` in the copy. ``nb`` itself is not changed.
    """
    kept = path_cells(nb, path)
    out = copy.deepcopy(nb)
    out.cells = [out.cells[i] for i, _ in kept]
    for c, (_, why) in zip(out.cells, kept):
        if why == "dependency":
            c.metadata["tags"] = [*c.metadata.get("tags", []), DEPENDENCY_TAG]
    return out


# A copy written elsewhere than notebooks/ keeps working links: relative targets that exist next to the
# source notebooks (../figures/x.png, ../data/DATASHEET.md) are rewritten relative to the copy's folder.
_MD_LINK = re.compile(r"(?P<pre>!?\[[^\]\n]*\]\(\s*<?)(?P<target>[^)\s>]+)")
_HTML_LINK = re.compile(r"(?P<pre>\b(?:src|href)\s*=\s*[\"'])(?P<target>[^\"'\s]+)", re.I)
_MD_REFERENCE = re.compile(r"(?P<pre>^\s{0,3}\[[^\]\n]+\]:\s*<?)(?P<target>\S+?)(?=>?(?:\s|$))", re.M)
_CODE_LITERAL = re.compile(r"(?P<pre>[\"'])(?P<target>\.\./[^\"'\n]+)(?=[\"'])")


def _relink(text: str, pattern: re.Pattern, source_dir: Path, out_dir: Path, copied: set[str]) -> str:
    def fix(m: re.Match) -> str:
        target = m.group("target")
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^[/#]", target):
            return m.group()
        file, sep, anchor = _split_anchor(target)
        resolved = (source_dir / file).resolve()
        if not file or (resolved.parent == source_dir and resolved.name in copied) or not resolved.exists():
            return m.group()
        return m.group("pre") + Path(os.path.relpath(resolved, out_dir)).as_posix() + sep + anchor

    return pattern.sub(fix, text)


def _split_anchor(target: str) -> tuple[str, str, str]:
    m = re.search(r"[#?]", target)
    return (
        (target, "", "") if m is None else (target[: m.start()], target[m.start()], target[m.start() + 1 :])
    )


def relink(
    nb: nbformat.NotebookNode,
    source_dir: str | Path,
    out_dir: str | Path,
    copied: set[str] | frozenset[str] = frozenset(),
) -> nbformat.NotebookNode:
    """Rewrite, in place, relative links of ``nb`` (read from ``source_dir``) for a copy in ``out_dir``.

    Markdown links and images, HTML ``src``/``href`` and reference links; in code cells, string literals that
    start with ``../``. Only targets that exist relative to ``source_dir`` change; links to notebooks in
    ``copied`` (file names copied into ``out_dir`` too) stay as they are. Returns ``nb``.
    """
    source_dir, out_dir = Path(source_dir).resolve(), Path(out_dir).resolve()
    for c in nb.cells:
        patterns = (_MD_LINK, _HTML_LINK, _MD_REFERENCE) if c.cell_type == "markdown" else (_CODE_LITERAL,)
        for pattern in patterns:
            c.source = _relink(c.source, pattern, source_dir, out_dir, set(copied))
    return nb


def write_paths(folder: str | Path, out: str | Path) -> list[Path]:
    """One copy of the course per reading path: ``out/<path>/<notebook>.ipynb`` (:func:`path_copy`).

    Relative links to files next to the notebooks (``../figures/…``) are rewritten to work from
    ``out/<path>/`` (:func:`relink`).
    """
    sources = nt.notebooks(folder)
    names = {p.name for p in sources}
    return [
        _write(
            relink(path_copy(_read(p), path), p.parent, Path(out) / path, names), Path(out) / path / p.name
        )
        for path in PATH_TIERS
        for p in sources
    ]


# ------------------------------------------------------------------------------------------------ badges
def _check_fork(repo: str, branch: str) -> None:
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
        raise ValueError(f"repo must look like OWNER/NAME, got {repo!r}")
    if not re.fullmatch(r"[\w./-]+", branch):
        raise ValueError(f"branch {branch!r} has characters a branch name cannot have")


def rewrite_links(text: str, repo: str, branch: str) -> str:
    """Point every Colab badge and ``git+https`` install URL in ``text`` at ``repo``/``branch``."""
    text = nt.BADGE_RE.sub(lambda m: nt.badge_url(m.group(3), repo, branch), text)
    return nt.INSTALL_RE.sub(f"git+https://github.com/{repo}@{branch}", text)


def set_badges(repo: str, branch: str, root: str | Path = nt.NOTEBOOK_DIR.parent) -> list[Path]:
    """Rewrite badges and install URLs in the notebooks, README and the configuration (notebook_tools).

    Returns the files that changed. Run it in an instructor's fork, then commit the result.
    """
    _check_fork(repo, branch)
    root = Path(root)
    changed = []
    config = root / "course_utils" / "course" / "notebook_tools.py"
    for path in [*nt.notebooks(root / "notebooks"), root / "README.md", config]:
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")
        new = rewrite_links(text, repo, branch)
        if path == config:
            new = re.sub(r'^REPO = ".*"$', f'REPO = "{repo}"', new, flags=re.M)
            new = re.sub(r'^BRANCH = ".*"$', f'BRANCH = "{branch}"', new, flags=re.M)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed
