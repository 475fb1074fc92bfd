"""``python -m dno`` and the ``dno`` command: process settings that must precede torch, then the
command line."""

import sys


def main() -> int:
    """Run the ``dno`` command line (OpenMP threads wait passively unless the user chose)."""
    from dno._cores import wait_passively

    wait_passively()
    from dno.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
