"""Image augmentation with few MNIST digits: test accuracy with and without it.

Run: python examples/augmentation.py [--fast] [--out demos]

Random crops (pad 2) and rotations up to 12 degrees on every training batch; an MLP and a
small CNN, each trained twice on the same few digits; saves sample and accuracy figures.
"""

import argparse

from bricks.demos import run_demo

parser = argparse.ArgumentParser()
parser.add_argument("--fast", action="store_true")
parser.add_argument("--out", default="augmentation")
args = parser.parse_args()
print(run_demo("augmentation", args.out, fast=args.fast).report())
