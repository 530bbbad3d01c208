"""bricks.data: datasets, loaders, splits, scalers and transforms (``torch.utils.data`` names).

    Dataset, TensorDataset, Subset, random_split      dataset.py
    DataLoader, default_collate                       dataloader.py
    train_test_split                                  split.py (scikit-learn's semantics)
    StandardScaler, MinMaxScaler                      scalers.py (scikit-learn's numbers)
    transforms: Compose, Normalize, Flatten, OneHot,  transforms.py
        RandomShift, RandomRotation, GaussianNoise, RandomHorizontalFlip, RandomCrop
    ImageFolder, load_image                           image_folder.py (Pillow)
    text: tokenize, Vocabulary, CountVectorizer,      text.py
        TfidfVectorizer
    datasets: toy 2-D sets, digits, MNIST, MNIST-1D,  datasets/ (its own package)
        drug reviews
"""

from bricks.data import transforms
from bricks.data.dataloader import DataLoader, default_collate
from bricks.data.dataset import Dataset, Subset, TensorDataset, random_split
from bricks.data.image_folder import ImageFolder, load_image
from bricks.data.scalers import MinMaxScaler, StandardScaler
from bricks.data.split import train_test_split

from bricks.data import datasets, text  # noqa: E402  isort: skip  (after the loaders it may use)

__all__ = [
    "transforms", "datasets", "text", "ImageFolder", "load_image",
    "Dataset", "TensorDataset", "Subset", "random_split",
    "DataLoader", "default_collate",
    "train_test_split",
    "StandardScaler", "MinMaxScaler",
]
