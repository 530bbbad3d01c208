"""The bricks playground: train a network in the browser on bricks' own engine.

``bricks playground`` (or :func:`playground_main`) starts a local web server (Starlette on
uvicorn) that serves the page and a WebSocket per browser tab; each tab is an independent
:class:`~bricks.playground.session.Session` training a real bricks MLP. The protocol between
the server and the page is docs/playground-protocol.md. Needs the ``playground`` extra
(``pip install bricks[playground]``); the app factory and ``serve`` live in
:mod:`bricks.playground.server`, imported lazily so ``import bricks`` never needs them.

The modules, in reading order: ``schema.py`` (every request checked, with the bounds),
``data.py`` (the data sets, split and features), ``model.py`` (the MLP, its output head and
the optimizer settings), ``session.py`` (one tab's state: data, network, training through
``bricks.train.Trainer``, commands), ``frames.py`` (what the page is sent), ``export.py``
(the downloads: weights, points, a runnable script), ``server.py`` (HTTP and WebSocket).
"""

from __future__ import annotations

__all__ = ["playground_main"]


def playground_main(host: str = "127.0.0.1", port: int = 0, open_browser: bool = True) -> int:
    """Entry point of ``bricks playground [--host H] [--port N] [--no-browser]``.

    Args:
        host: address to bind (loopback by default).
        port: port to listen on; 0 picks a free one and prints it.
        open_browser: open the page in the default browser.

    Returns:
        0 after the server stops (Ctrl+C); 1 if starlette or uvicorn is missing.
    """
    try:
        from bricks.playground.server import serve
    except ImportError as err:
        print(f"bricks playground needs the playground extra: pip install "
              f"'bricks[playground]' ({err})")
        return 1
    serve(host=host, port=port, open_browser=open_browser)
    return 0

