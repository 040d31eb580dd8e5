"""The course experiments: one module per experiment, run from the repository root.

    python -m experiments.xor --epochs 2000      # one experiment, its options with --help
    python -m experiments.run_all                # the main job: course examples 1-5
    fnnet list / fnnet run xor                   # the same through the installed command line

Each experiment module follows ``experiments/common.py``: its docstring's first line describes it,
``build_parser()`` returns its argparse parser and ``main(argv=None) -> dict`` runs it. Importing this
package imports nothing else (no JAX), so ``fnnet list`` stays fast.
"""
