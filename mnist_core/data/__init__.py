"""MNIST itself: the IDX files (`idx`), fetching them on first use (`download`), the
source, its splits and batches (`mnist`), and training-time augmentation (`augment`).
"""
