"""``python -m dno`` and the ``dno`` command."""

import sys


def main() -> int:
    """Run the ``dno`` command line."""
    from dno.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
