"""``python -m baocao …`` is the same as the ``baocao`` command.

The console script runs ``main`` from here too: this module imports nothing heavy, so a worker
process (which imports the main module of the program that started it) does not load the
command line and its libraries.
"""


def main() -> None:
    from baocao.cli import run

    run()


if __name__ == "__main__":
    main()
