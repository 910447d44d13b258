"""Command line: ``python -m course_utils <command>``.

Commands:
    build           execute every notebook offline into build/ (HTML + executed notebooks + index.html)
    figures         regenerate the committed illustrations in figures/
    datasheet       print the corpus counts that data/DATASHEET.md reports
    colab-install   install what the course needs and Colab lacks (for setup cells saved before 0.2; today's
                    setup cell runs `pip install explaining-bert @ git+…`, which does the same)
    student         student copies: `solution` cells replaced by exercise placeholders (build/student)
    solutions       complete copies with the solutions (build/solutions)
    paths           one copy of the course per reading path (build/paths/<path>)
    badges          point every Colab badge and install URL at a fork: --repo OWNER/NAME --branch BRANCH
    explain         explain a corpus file (CSV/Parquet) → tokens/words/documents.parquet + run.json (corpus_cli.py)
    site            the course website from the executed notebooks in build/ (build/site/index.html)
    explorer        notebook 07's explorer as a page on localhost (Voila): --model DIR --port N
"""

from __future__ import annotations

import argparse
import subprocess
import sys


def requirements() -> list[str]:
    """The course's own requirements as its metadata states them: ranges that admit Colab's versions."""
    from importlib.metadata import requires

    return [r for r in requires("explaining-bert") or [] if "extra ==" not in r]


def colab_install() -> int:
    """pip-install what the course needs and the runtime lacks; what is already there at a fitting version stays."""
    return subprocess.call([sys.executable, "-m", "pip", "install", "-q", *requirements()])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_utils",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_build = sub.add_parser("build", help="execute every notebook into build/")
    p_build.add_argument("--out", default="build")
    p_build.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    p_fig = sub.add_parser("figures", help="regenerate figures/")
    p_fig.add_argument("--out", default="figures")
    p_fig.add_argument(
        "--no-classifier",
        action="store_true",
        help="skip the figures drawn from the fine-tuned classifier (they need it cached or trained)",
    )
    sub.add_parser("datasheet", help="print the counts for data/DATASHEET.md")
    sub.add_parser("colab-install", help="install what Colab lacks")
    for name, default in (
        ("student", "build/student"),
        ("solutions", "build/solutions"),
        ("paths", "build/paths"),
    ):
        p = sub.add_parser(name, help=f"write copies of the notebooks into {default}")
        p.add_argument("--out", default=default)
        p.add_argument(
            "--notebooks", default=None, help="folder of the source notebooks (default: notebooks/)"
        )
    p_badges = sub.add_parser("badges", help="point badges and install URLs at a fork/branch")
    p_badges.add_argument("--repo", required=True, help="OWNER/NAME of the fork on GitHub")
    p_badges.add_argument("--branch", default="main")
    from ..corpus_cli import add_arguments as explain_arguments  # light: imports nothing heavy

    explain_arguments(
        sub.add_parser("explain", help="explain a corpus file into a folder of tidy Parquet tables")
    )
    p_site = sub.add_parser("site", help="the course website from the executed notebooks (build/site)")
    p_site.add_argument("--build", default="build", help="folder of the executed notebooks (default: build)")
    p_site.add_argument("--out", default=None, help="the site's folder (default: <build>/site)")
    p_explorer = sub.add_parser("explorer", help="serve notebook 07's explorer on localhost")
    p_explorer.add_argument(
        "--model", default=None, help="a save_pretrained folder (default: the cached classifier)"
    )
    p_explorer.add_argument("--port", type=int, default=8866)
    p_explorer.add_argument(
        "--examples", type=int, default=8, help="example paragraphs in the menu (0: none)"
    )
    args = parser.parse_args(argv)

    if args.command == "build":
        from .build import NotebookFailed, build

        try:
            build(args.out, timeout=args.timeout)
        except NotebookFailed as exc:
            print(
                f"make course stopped: {exc}\nThe partly executed notebook is in {args.out}/.",
                file=sys.stderr,
            )
            return 1
        return 0
    if args.command == "figures":
        from .figures import build_all

        for path in build_all(args.out, classifier=not args.no_classifier):
            print(path)
        return 0
    if args.command == "datasheet":
        from .datasheet import datasheet_counts

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
    if args.command == "explain":
        from ..corpus_cli import run

        return run(args)
    if args.command == "site":
        from .site import build_site

        try:
            index = build_site(args.build, args.out)
        except (FileNotFoundError, ImportError) as exc:
            print(f"course_utils site: {exc}", file=sys.stderr)
            return 1
        print(f"The course site is built. Open {index}")
        return 0
    if args.command == "explorer":
        from ..explorer_app import serve

        try:
            return serve(args.model, args.port, examples=args.examples)
        except (FileNotFoundError, TypeError, ValueError) as exc:
            print(f"course_utils explorer: {exc}", file=sys.stderr)
            return 1
    return 2  # pragma: no cover
