"""Interoperation: PyTorch parameter layouts (``interop.torch``) and scikit-learn estimators.

``fnnet.interop.sklearn`` needs scikit-learn and is imported on its own
(``from fnnet.interop.sklearn import MLPClassifier``).
"""

from fnnet.interop import torch

__all__ = ["torch"]
