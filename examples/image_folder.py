"""Train a classifier on a folder of images, one sub-folder per class (Dogs vs. Cats style).

Run: python examples/image_folder.py FOLDER [--size 64] [--grey] [--epochs 10]
     python examples/image_folder.py --demo      (writes a small folder of shapes first)

The folder layout (see docs/applications.md for the Kaggle Dogs vs. Cats recipe):
    FOLDER/cat/*.jpg  FOLDER/dog/*.jpg  ...
Each image is decoded with Pillow, resized, and trained on with random crops and flips; the
script prints the held-out accuracy and the class of the first held-out image.
"""

import argparse
import tempfile
from pathlib import Path

import bricks
from bricks import nn
from bricks.backend import to_numpy, xp
from bricks.data import DataLoader, ImageFolder, TensorDataset, train_test_split
from bricks.data import transforms as T

parser = argparse.ArgumentParser()
parser.add_argument("folder", nargs="?")
parser.add_argument("--demo", action="store_true", help="generate a folder of discs/squares")
parser.add_argument("--size", type=int, default=32)
parser.add_argument("--grey", action="store_true")
parser.add_argument("--epochs", type=int, default=15)
args = parser.parse_args()

if args.demo:
    from PIL import Image, ImageDraw

    root = Path(tempfile.mkdtemp()) / "shapes"
    rng = xp.random.default_rng(0)
    for cls in ("disc", "square"):
        (root / cls).mkdir(parents=True)
        for i in range(60):
            im = Image.new("RGB", (40, 40), tuple(int(v) for v in rng.integers(0, 80, 3)))
            r, cy, cx = int(rng.integers(6, 12)), *(int(v) for v in rng.integers(12, 28, 2))
            box = [cx - r, cy - r, cx + r, cy + r]
            colour = tuple(int(v) for v in rng.integers(120, 256, 3))
            (ImageDraw.Draw(im).ellipse if cls == "disc" else ImageDraw.Draw(im).rectangle)(
                box, fill=colour)
            im.save(root / cls / f"{i}.jpg")
    args.folder = str(root)
if not args.folder:
    parser.error("give a FOLDER or --demo")

folder = ImageFolder(args.folder, mode="L" if args.grey else "RGB", size=args.size)
print(folder)
X, y = folder.to_arrays()
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, seed=0)
c, s = X.shape[1], args.size
bricks.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(c, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveMaxPool2d(1),
    nn.Flatten(), nn.Linear(32, len(folder.classes)))
augment = T.Compose([T.RandomCrop(s, padding=s // 8), T.RandomHorizontalFlip()])
loader = DataLoader(TensorDataset(X_train, y_train), batch_size=32, shuffle=True,
                    transform=augment)
opt = bricks.optim.Adam(model.parameters(), lr=3e-3)
bricks.train.fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=args.epochs, verbose=False)
model.eval()
pred = to_numpy(bricks.train.predict(model, X_test).data).argmax(axis=1)
print(f"held-out accuracy: {(pred == y_test).mean():.1%} on {len(y_test)} images")
print(f"first held-out image: {folder.classes[pred[0]]} (true: {folder.classes[y_test[0]]})")
