"""Lean 4 backends: the Lean REPL (``lake exe repl``) and LeanDojo.

Nothing here imports Lean tooling at import time; ``lean-dojo`` is imported only when the
LeanDojo backend is used.
"""
