"""The Mistakes page (`pages/mistakes.py` composes it): where a model goes wrong on the 10,000
MNIST test images.

- `overview`: the model's figures and the confusion matrix (a clicked cell filters the gallery)
- `gallery`: the misread digits, filtered and paged, and the inspector of one of them
"""
