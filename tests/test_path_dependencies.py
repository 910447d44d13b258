"""Tests for the reading-path copies' dependency analysis (course_utils.instructor): the Python and R names a
cell binds and reads, path_cells/path_copy on small synthetic notebooks (R objects defined in dropped cells,
Python chains, `shows-output`), links in copies written elsewhere, and a static check over the real notebooks
that every name a kept cell reads is bound by an earlier kept cell."""

from __future__ import annotations

import os

import nbformat
import pytest

from course_utils import instructor
from course_utils import notebook_tools as nt
from course_utils.instructor import (
    DEPENDENCY_TAG,
    MAGIC,
    PY,
    R,
    RSyntaxError,
    cell_names,
    notebook_needs,
    path_cells,
    path_copy,
    python_names,
    r_names,
    relink,
    write_paths,
)
from course_utils.r_bridge import r_check

R_OK, R_REASON = r_check(("stats",))
needs_r = pytest.mark.skipif(
    not R_OK and os.environ.get("COURSE_REQUIRE_R") != "1", reason=f"R/rpy2 not usable here: {R_REASON}"
)


# ---------------------------------------------------------------------------------------------- R names
@pytest.mark.parametrize(
    "code, defined, used",
    [
        ("x <- 1", {"x"}, set()),
        ("x = y + 1", {"x"}, {"y"}),
        ("y + 1 -> x", {"x"}, {"y"}),
        ("x <<- 2; z ->> w", {"x", "w"}, {"z"}),
        ('assign("x", y)', {"x"}, {"assign", "y"}),
        ("f(a = b)", set(), {"f", "b"}),  # an argument name is not a binding
        ("d$col <- 1", {"d"}, {"d"}),  # a replacement reads and rebinds d
        ("names(d)[2] <- 'b'", {"d"}, {"d"}),
        ("levels(d$f) <- c('a', 'b')", {"d"}, {"d", "c"}),
        ("x <- 1\ny <- x", {"x", "y"}, set()),  # bound before it is read: not free
        ("y <- x\nx <- 1", {"x", "y"}, {"x"}),
        (
            "f <- function(a, b = k) { t <- a + b + g; t }",
            {"f"},
            {"k", "g"},
        ),  # formals and locals are not global
        ("f <- \\(a) a * s", {"f"}, {"s"}),
        ("g <- function() { h <<- 1 }", {"g", "h"}, set()),
        ("for (i in seq_len(n)) total <- total + i", {"i", "total"}, {"seq_len", "n", "total"}),
        ("stats::lm(y ~ x, data = d)", set(), {"y", "x", "d"}),  # pkg::name reads nothing
        ("d$total + d@slot", set(), {"d"}),  # members are not names
        ('library(dplyr); suppressPackageStartupMessages(library("lme4"))', set(), set()),
        ("`my var` <- 1\nprint(`my var`)", {"my var"}, {"print"}),
        ('s <- "a <- b # c"  # x <- y', {"s"}, set()),  # strings and comments hold no names
        ("if (a > 0) {\n  b <- 1\n} else {\n  b <- 2\n}", {"b"}, {"a"}),
        (
            "p <- ggplot(d, aes(x, y)) +\n  geom_point()\nprint(p)",
            {"p"},
            {"ggplot", "d", "aes", "x", "y", "geom_point", "print"},
        ),
        (
            "m <- x[1, , drop = FALSE][[2]]\nk <- -2^2:3 %in% v |> sum()",
            {"m", "k"},
            {"x", "%in%", "v", "sum"},
        ),
        ('r <- r"(a "quoted" <- thing)"', {"r"}, set()),
        ("`%+%` <- function(a, b) paste(a, b)\n'a' %+% 'b'", {"%+%"}, {"paste"}),  # an infix function, called
        ("d %>% filter(a == 1)", set(), {"%>%", "d", "filter", "a"}),
    ],
)
def test_r_names_finds_bindings_and_free_reads(code, defined, used):
    assert r_names(code) == (defined, used)


@pytest.mark.parametrize("code", ["x <- (1 + ", "f(a b)", "x <- 'open", "for x in y"])
def test_r_names_rejects_code_it_cannot_read(code):
    with pytest.raises(RSyntaxError):
        r_names(code)


def test_r_names_bad_type():
    with pytest.raises(TypeError, match="str of R code"):
        r_names(b"x <- 1")


def test_r_cell_magic_moves_names_between_python_and_r():
    defined, used = python_names(
        "%%R -i frame,w -o coefs -w 7 -h 3.4 --units in -r 110\n"
        "fit <- lm(y ~ x, data = frame, weights = w)\ncoefs <- coef(fit)\nprint(d)"
    )
    assert defined == {(R, "frame"), (R, "w"), (R, "fit"), (R, "coefs"), (PY, "coefs")}
    assert (PY, "frame") in used and (PY, "w") in used and (R, "d") in used and (MAGIC, "R") in used
    assert (R, "frame") not in used and (R, "coefs") not in used  # bound by -i / by the cell itself
    assert not {n for n in used if n[1] in {"7", "3.4", "in", "110"}}  # plot options are not names
    defined, used = python_names("%%R --input=rname=py_frame -o out\nprint(rname)")
    assert (R, "rname") in defined and (PY, "py_frame") in used and (R, "rname") not in used
    assert (R, "out") in used and (
        PY,
        "out",
    ) in defined  # -o of an R object the cell did not bind: read from R


def test_r_line_magics():
    assert python_names("%Rpush a b") == ({(R, "a"), (R, "b")}, {(MAGIC, "R"), (PY, "a"), (PY, "b")})
    assert python_names("%Rpull est") == ({(PY, "est")}, {(MAGIC, "R"), (R, "est")})
    defined, used = python_names("%R -o n n <- nrow(d)")
    assert {(R, "n"), (PY, "n")} <= defined and (R, "d") in used


# ----------------------------------------------------------------------------------------- Python names
def py(source: str) -> tuple[set[str], set[str]]:
    defined, used = python_names(source)
    return {n for k, n in defined if k == PY}, {n for k, n in used if k == PY}


@pytest.mark.parametrize(
    "source, defined, used",
    [
        ("import numpy as np\n!pip install x\nx = np.zeros(y)", {"np", "x"}, {"y"}),
        ("x = x + 1", {"x"}, {"x"}),
        ("total += step", {"total"}, {"total", "step"}),
        ("squares = [v * v for v in values if v > cut]", {"squares"}, {"values", "cut"}),
        ("f = lambda a: a + offset", {"f"}, {"offset"}),
        ("def g(a, b=default):\n    local = a + b\n    return local * scale", {"g"}, {"default", "scale"}),
        ("class K(Base):\n    attr = 1\n    def m(self):\n        return self.attr", {"K"}, {"Base"}),
        ("frame['z'] = frame['x'] * k", {"frame"}, {"frame", "k"}),  # changed in place: read and rebound
        ("model.name = 'm'", {"model"}, {"model"}),
        ("items.append(3)", {"items"}, {"items"}),
        ("frame.sort_values('x', inplace=True)", {"frame"}, {"frame"}),
        ("frame.head()", set(), {"frame"}),  # a plain method call changes nothing
        ("for i, row in rows.iterrows():\n    print(i, row)", {"i", "row"}, {"rows", "print"}),
        ("with open(p) as fh:\n    text = fh.read()", {"fh", "text"}, {"open", "p"}),
        (
            "try:\n    v = risky()\nexcept ValueError as err:\n    v = str(err)",
            {"v", "err"},
            {"risky", "ValueError", "str"},
        ),
        ("%%time\nresult = slow(n)", {"result"}, {"slow", "n"}),
        ("%%capture out\nnoisy(x)", {"out"}, {"noisy", "x"}),
        ("%time fast = quick(m)", {"fast"}, {"quick", "m"}),
        ("files = !ls data", {"files"}, set()),
        ("del cache", set(), {"cache"}),
        ("if (n := len(xs)) > 3:\n    big = n", {"n", "big"}, {"len", "xs"}),
    ],
)
def test_python_names_binds_and_free_reads(source, defined, used):
    got_defined, got_used = py(source)
    assert got_defined == defined and got_used - {"get_ipython"} == used


def test_setup_r_cell_provides_the_r_magic():
    defined, _ = python_names("R_READY = setup_r(('ggplot2',))")
    assert (MAGIC, "R") in defined and (PY, "R_READY") in defined
    assert (MAGIC, "R") in python_names("%load_ext rpy2.ipython")[0]


def test_cell_names_says_which_cell_does_not_parse():
    assert cell_names(nbformat.v4.new_markdown_cell("x = 1")) == (set(), set())
    with pytest.raises(ValueError, match="starting 'x = = 1'"):
        cell_names(nbformat.v4.new_code_cell("x = = 1"))
    with pytest.raises(ValueError, match="cannot find the names"):
        cell_names(nbformat.v4.new_code_cell("%%R\nx <- (1 +"))
    with pytest.raises(TypeError, match="notebook cell"):
        cell_names("x = 1")


# ----------------------------------------------------------------------------- path copies, synthetic
def notebook(*cells: tuple[str, str, str] | tuple[str, str, str, str]) -> nbformat.NotebookNode:
    """A notebook of (kind, tier, source[, extra tag]) cells after a title and a setup cell (both essentials)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nt.cell("markdown", "# Title", "essentials"), nt.cell("code", "SEED = 1", "essentials")]
    nb.cells += [nt.cell(kind, source, tier, *extra) for kind, tier, source, *extra in cells]
    for i, c in enumerate(nb.cells):
        c["id"] = f"cell-{i:03d}"
    return nb


def r_lesson() -> nbformat.NotebookNode:
    """Notebook 06's bug in small: the essentials figure cell uses R objects (`d`, `lm_total`) that only
    practitioner/deep-dive R cells bind, without `-i`/`-o` naming them; the R magic comes from a
    practitioner `setup_r` cell."""
    return notebook(
        (
            "code",
            "practitioner",
            "from course_utils.r_bridge import setup_r\nR_READY = setup_r(('stats',))",
        ),  # 2
        (
            "code",
            "essentials",
            "import pandas as pd\ntable = pd.DataFrame({'x': [1.0, 2, 3, 4], 'y': [2.1, 3.9, 6.2, 7.8]})",
        ),
        (
            "code",
            "practitioner",
            "%%R -i table,SEED\nset.seed(SEED)\nd <- transform(table, x2 = x * 2)\n"
            "fit <- lm(y ~ x, data = d)",
        ),  # 4
        (
            "code",
            "deep-dive",
            "%%R -o lm_total\nlm_total <- data.frame(term = names(coef(fit)), estimate = unname(coef(fit)))",
        ),  # 5
        ("code", "deep-dive", "%%R\nunrelated <- 42"),  # 6
        ("markdown", "essentials", "## 🟢 The slope\n\nThe slope is about 2."),  # 7
        (
            "code",
            "essentials",
            "%%R\nstopifnot(nrow(lm_total) == 2, nrow(d) == 4)\n"
            "stopifnot(abs(lm_total$estimate[2] - 1.94) < 1e-9)\nprint(lm_total)",
        ),  # 8
    )


def kept(nb: nbformat.NotebookNode, path: str) -> dict[int, str]:
    return dict(path_cells(nb, path))


def test_path_copy_keeps_r_cells_that_bind_r_objects_a_kept_cell_uses():
    k = kept(r_lesson(), "essentials")
    assert k == {
        0: "path",
        1: "path",
        2: "dependency",
        3: "path",
        4: "dependency",
        5: "dependency",
        7: "path",
        8: "path",
    }  # 6 (an R cell nobody needs) is dropped
    assert kept(r_lesson(), "practitioner") == {**k, 2: "path", 4: "path"}
    assert len(kept(r_lesson(), "deep-dive")) == len(r_lesson().cells)


def test_static_check_flags_a_copy_by_tags_alone():
    """The check used on the real notebooks below finds exactly notebook 06's bug in a copy made from tags."""
    nb = r_lesson()
    by_tags = [c for i, c in enumerate(nb.cells) if i < 2 or "essentials" in nt.tier_of(c)]
    assert unmet_names(nb, by_tags) == {"cell-008": {(MAGIC, "R"), (R, "d"), (R, "lm_total")}}
    assert unmet_names(nb, path_copy(nb, "essentials").cells) == {}


def python_chain() -> nbformat.NotebookNode:
    return notebook(
        ("code", "deep-dive", "import math\nbase = 3"),  # 2 needed via 4
        ("code", "deep-dive", "noise = [v for v in range(5)]"),  # 3 not needed
        ("code", "practitioner", "radius = base * 2\nv = 0"),  # 4 needed via 5
        ("code", "deep-dive", "def area(r):\n    return math.pi * r ** 2 * SCALE"),  # 5 needed via 9
        ("code", "deep-dive", "SCALE = 1.0"),  # 6 needed: read by area
        ("code", "practitioner", "frame = {'a': 1}"),  # 7 needed via 8, 9
        ("code", "deep-dive", "frame['b'] = radius"),  # 8 changes frame
        ("code", "essentials", "result = area(radius) + frame['b']\nassert result > 100"),  # 9
        ("code", "practitioner", "shown = sorted(frame)\nshown", "shows-output"),  # 10 tagged
        ("markdown", "essentials", "The keys are `a` and `b`, shown above."),  # 11
        ("code", "deep-dive", "frame['c'] = 0"),  # 12 after every use
    )


def test_path_copy_follows_python_chains_transitively():
    k = kept(python_chain(), "essentials")
    assert sorted(k) == [0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11]
    assert k[10] == "shows-output" and k[2] == k[8] == "dependency"
    assert sorted(kept(python_chain(), "practitioner")) == [0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11]


def test_a_function_needs_its_global_names_where_it_is_called():
    nb = notebook(
        ("code", "deep-dive", "def scaled(v):\n    return v * FACTOR"),  # 2
        ("code", "deep-dive", "%%R\nf <- function() k * 2"),  # 3
        ("code", "deep-dive", "FACTOR = 3"),  # 4: after the def
        ("code", "deep-dive", "%%R\nk <- 3"),  # 5
        ("code", "essentials", "from course_utils.r_bridge import setup_r\nsetup_r(('stats',))"),
        ("code", "essentials", "assert scaled(2) == 6"),  # 7
        ("code", "essentials", "%%R\nstopifnot(f() == 6)"),  # 8
        ("code", "deep-dive", "FACTOR = 0"),  # 9: after the call
    )
    needs = notebook_needs(nb.cells)
    assert (PY, "FACTOR") not in needs[2][1] and (PY, "FACTOR") in needs[7][1]
    assert (R, "k") not in needs[3][1] and (R, "k") in needs[8][1]
    assert sorted(kept(nb, "essentials")) == [0, 1, 2, 3, 4, 5, 6, 7, 8]
    assert (PY, "FACTOR") in cell_names(nb.cells[2])[
        1
    ]  # the simple view counts it where the function is defined


def test_shows_output_cells_are_kept_on_every_path_with_their_needs():
    nb = notebook(
        ("code", "deep-dive", "counts = {'a': 3}"),  # 2
        ("code", "deep-dive", "counts", "shows-output"),  # 3
        ("markdown", "essentials", "Three a's, as the table above shows."),  # 4
        ("code", "deep-dive", "counts"),  # 5 not tagged
    )
    assert kept(nb, "essentials") == {0: "path", 1: "path", 2: "dependency", 3: "shows-output", 4: "path"}
    nb.cells[5].metadata["tags"] = ["deep-dive", "shows-output"]
    nb.cells[5].cell_type = "markdown"
    nb.cells[5] = nbformat.v4.new_markdown_cell("counts", metadata=nb.cells[5].metadata, id="cell-005")
    assert 5 not in kept(nb, "essentials")  # the tag keeps code cells only


def test_path_copy_tags_dependencies_and_leaves_the_original_alone():
    nb = python_chain()
    before = nbformat.writes(nb)
    out = path_copy(nb, "essentials")
    assert nbformat.writes(nb) == before
    tagged = [c["id"] for c in out.cells if DEPENDENCY_TAG in c.metadata["tags"]]
    assert tagged == ["cell-002", "cell-004", "cell-005", "cell-006", "cell-007", "cell-008"]
    assert all(len(nt.tier_of(c)) == 1 for c in out.cells)
    nbformat.validate(out)


def test_path_cells_bad_arguments():
    with pytest.raises(ValueError, match="not one of"):
        path_cells(python_chain(), "expert")
    with pytest.raises(TypeError, match="notebook"):
        path_cells([], "essentials")


def test_path_copy_of_a_python_chain_executes():
    from nbclient import NotebookClient

    nb = path_copy(python_chain(), "essentials")
    NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    assert nb.cells[-2].outputs[0]["data"]["text/plain"] == "['a', 'b']"


@needs_r
def test_path_copy_with_r_objects_executes():
    from nbclient import NotebookClient

    nb = path_copy(r_lesson(), "essentials")
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert "estimate" in printed and "1.94" in printed


# ---------------------------------------------------------------------------------------------- links
def test_relink_points_relative_links_at_the_same_files_from_the_copy(tmp_path):
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "ig path.png").write_bytes(b"png")
    (tmp_path / "figures" / "ig.svg").write_text("<svg/>")
    (tmp_path / "notebooks").mkdir()
    nb = notebook(
        (
            "markdown",
            "essentials",
            "![the path](../figures/ig.svg) and [notebook 03](03_x.ipynb#top), "
            "[gone](../figures/missing.png), [web](https://example.org/a.png), "
            '<img src="../figures/ig.svg" width=300>\n\n[ref]: ../figures/ig.svg',
        ),
        (
            "code",
            "essentials",
            "Image('../figures/ig path.png'); open(\"../figures/ig.svg\"); s = '../nowhere'",
        ),
    )
    nbformat.write(nb, str(tmp_path / "notebooks" / "03_x.ipynb"))
    written = write_paths(tmp_path / "notebooks", tmp_path / "build" / "paths")
    copy = nbformat.read(str(written[0]), as_version=4)
    md, code = copy.cells[2].source, copy.cells[3].source
    assert "](../../../figures/ig.svg)" in md and 'src="../../../figures/ig.svg"' in md
    assert "[ref]: ../../../figures/ig.svg" in md
    assert (
        "](03_x.ipynb#top)" in md
        and "](../figures/missing.png)" in md
        and "](https://example.org/a.png)" in md
    )
    assert (
        "'../../../figures/ig path.png'" in code
        and '"../../../figures/ig.svg"' in code
        and "'../nowhere'" in code
    )
    out = written[0].parent
    for target in ("../../../figures/ig.svg", "../../../figures/ig path.png"):
        assert (out / target).is_file()
    student = instructor.write_student(tmp_path / "notebooks", tmp_path / "build" / "student")
    assert "](../../figures/ig.svg)" in nbformat.read(str(student[0]), as_version=4).cells[2].source


def test_relink_keeps_links_in_place_when_written_next_to_the_source(tmp_path):
    nb = notebook(("markdown", "essentials", "[readme](../README.md)"))
    (tmp_path / "README.md").write_text("x")
    (tmp_path / "nbs").mkdir()
    assert relink(nb, tmp_path / "nbs", tmp_path / "nbs").cells[2].source == "[readme](../README.md)"


# --------------------------------------------------------------------------------- the real notebooks
def unmet_names(nb: nbformat.NotebookNode, cells: list) -> dict[str, set]:
    """For each cell of ``cells`` (a copy of ``nb``, in order): names it needs (reads, or reads through a
    function it uses: notebook_needs) that some cell of ``nb`` binds but no earlier cell of ``cells`` does.
    Names nothing in the notebook binds (builtins, R functions of packages, column names) are the
    libraries' and are left out."""
    every = set().union(*(defined for defined, _ in notebook_needs(nb.cells)))
    bound, unmet = set(), {}
    for c, (defined, needs) in zip(cells, notebook_needs(cells)):
        if (needs & every) - bound:
            unmet[c["id"]] = (needs & every) - bound
        bound |= defined
    return unmet


NOTEBOOKS = nt.notebooks()


@pytest.mark.parametrize("path", list(nt.PATHS))
@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=[p.stem[:2] for p in NOTEBOOKS])
def test_every_name_a_kept_cell_reads_is_bound_by_an_earlier_kept_cell(nb_path, path):
    nb = nbformat.read(str(nb_path), as_version=4)
    copy = path_copy(nb, path)
    assert unmet_names(nb, copy.cells) == {}, (
        f"{nb_path.name}, {path} copy: names read before any kept cell binds them"
    )
    ids = [c["id"] for c in copy.cells]
    assert ids == [c["id"] for c in nb.cells if c["id"] in set(ids)]  # notebook order kept


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=[p.stem[:2] for p in NOTEBOOKS])
def test_paths_are_layers(nb_path):
    nb = nbformat.read(str(nb_path), as_version=4)
    essentials, practitioner, deep = ({i for i, _ in path_cells(nb, p)} for p in nt.PATHS)
    assert essentials <= practitioner <= deep == set(range(len(nb.cells)))
    tiers = [set(nt.tier_of(c)) for c in nb.cells]
    assert {i for i, t in enumerate(tiers) if "essentials" in t} <= essentials
    assert {i for i, t in enumerate(tiers) if t & {"essentials", "practitioner"}} <= practitioner


def test_copies_of_the_course_parse_and_their_relative_links_resolve(tmp_path):
    from course_utils.__main__ import main

    n = len(NOTEBOOKS)
    for command in ("paths", "student", "solutions"):
        assert main([command, "--out", str(tmp_path / command)]) == 0
    copies = sorted(tmp_path.rglob("*.ipynb"))
    assert len(copies) == 5 * n
    link = instructor._MD_LINK
    for copy_path in copies:
        nb = nbformat.read(str(copy_path), as_version=4)
        nbformat.validate(nb)
        for c in nb.cells:
            cell_names(c)  # every code cell of every copy parses (Python, and R in %%R cells)
            if c.cell_type == "markdown":
                for m in link.finditer(c.source):
                    target = instructor._split_anchor(m.group("target"))[0]
                    if target and not target.startswith(("http:", "https:", "mailto:", "#", "/")):
                        assert (copy_path.parent / target).exists(), f"{copy_path}: link {target} is broken"
