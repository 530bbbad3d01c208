"""The version of bricks, in a module of its own: what reads it (``bricks.io`` when it
writes a checkpoint, the command line) need not import the whole package."""

__version__ = "0.1.0"
