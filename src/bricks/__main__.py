"""``python -m bricks``: the same as the ``bricks`` command."""

from bricks.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
