"""``python -m baocao …`` is the same as the ``baocao`` command."""

from .cli import run

run()
