"""Box regression: find the box (corner, width, height) around a digit on a 64x64 canvas.

Run: python examples/box_regression.py [--fast] [--out boxes]

Trains bricks.demos.boxes.BoxCNN on generated canvases (real MNIST-10k digits among
fragments of other digits), prints the mean IoU on held-out canvases after each epoch, and
saves a grid of true and predicted boxes as PNG.
"""

import argparse

from bricks.demos import run_demo

parser = argparse.ArgumentParser()
parser.add_argument("--fast", action="store_true")
parser.add_argument("--out", default="boxes")
args = parser.parse_args()
print(run_demo("boxes", args.out, fast=args.fast).report())
