"""Quality runs of the four jobs on material nobody here wrote; see eval/README.md.

Run from the repository root as modules: `python -m eval.qa ...`, `python -m eval.review ...`.
"""
