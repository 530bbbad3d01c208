"""The README's example and the examples/ scripts run and do what they say."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_readme_line_fit_recovers_the_line(capsys):
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    namespace = {}
    exec(compile(block, "README.md", "exec"), namespace)
    w, b = namespace["w"].item(), namespace["b"].item()
    assert abs(w - 3.0) < 0.1 and abs(b - 0.5) < 0.05


def test_xor_example_learns_xor():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "xor.py")],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    assert "accuracy: 100%" in out
    losses = [float(v) for v in re.findall(r"loss ([0-9.]+)", out)]
    assert losses[-1] < losses[0] / 10


@pytest.mark.slow
def test_image_folder_example_learns_a_generated_folder():
    pytest.importorskip("PIL")
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "image_folder.py"), "--demo"],
                         capture_output=True, text=True, check=True, timeout=600).stdout
    acc = float(re.search(r"held-out accuracy: ([\d.]+)%", out).group(1))
    assert acc >= 90 and "classes=['disc', 'square']" in out
