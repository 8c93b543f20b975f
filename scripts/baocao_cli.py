"""Run the ``baocao`` command without installing the package.

    python scripts/baocao_cli.py --config config.toml status --period 2025-Q1

For people who schedule a script rather than install a package: it only puts the repository on
``sys.path`` and hands over to the same command line as ``baocao``.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

if __name__ == "__main__":  # a worker process imports this file too: it must not load the CLI
    from baocao.cli import run

    run()
