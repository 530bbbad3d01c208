"""`bricks demo`: the list, a fast run, and a clear error for an unknown name."""

from bricks import demos
from bricks.cli import main


def test_demo_list_names_every_available_demo(capsys):
    assert main(["demo", "--list"]) == 0
    out = capsys.readouterr().out
    names = demos.available()
    assert names, "no demo modules found"
    for name in names:
        assert name in out


def test_demo_runs_and_writes_its_figures(tmp_path, capsys):
    assert main(["demo", "linear-collapse", "--fast", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "figure:" in out
    pngs = list((tmp_path / "linear-collapse").glob("*.png"))
    assert pngs and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_unknown_demo_is_a_one_line_error(capsys):
    assert main(["demo", "no-such-demo"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bricks: error: unknown demo 'no-such-demo'")
    assert "Traceback" not in err and err.count("\n") == 1


def test_playground_rejects_a_bad_port(capsys):
    assert main(["playground", "--port", "99999", "--no-browser"]) == 2
    assert "--port must be in 0..65535" in capsys.readouterr().err


def test_playground_command_starts_the_server(monkeypatch):
    import bricks.playground as playground

    seen = {}
    monkeypatch.setattr(playground, "playground_main",
                        lambda **kw: seen.update(kw) or 0)
    assert main(["playground", "--no-browser", "--port", "8123"]) == 0
    assert seen == {"host": "127.0.0.1", "port": 8123, "open_browser": False}
