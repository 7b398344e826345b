"""The one preprocessing contract shared by training, evaluation and the node.

FER2013 is grayscale and the camera is colour, so every face goes through the same path:
colour -> grayscale (OpenCV BGR weights) -> 48x48 (INTER_AREA) -> [0, 1] -> (x - 0.5) / 0.5 ->
the gray plane repeated on the model's 3 input channels. The contract is saved in every weight
file's metadata and checked when the file is loaded.
"""

import numpy as np

PREPROCESSING = {
    "color": "gray_bgr_to_3ch",
    "size": 48,
    "resize": "INTER_AREA",
    "scale": 1.0 / 255.0,
    "mean": 0.5,
    "std": 0.5,
}


class PreprocessError(ValueError):
    """The image cannot be turned into a model input."""


def to_gray48(image: np.ndarray) -> np.ndarray:
    """Return the 48x48 uint8 gray face for an HxW gray, HxWx3 BGR or HxWx4 BGRA uint8 image."""
    import cv2

    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise PreprocessError(f"expected a uint8 numpy image, got {type(image).__name__} {getattr(image, 'dtype', '')}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    elif image.ndim != 2:
        raise PreprocessError(f"expected HxW, HxWx3 or HxWx4, got shape {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise PreprocessError(f"empty image {image.shape}")
    size = PREPROCESSING["size"]
    if image.shape != (size, size):
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(image)


def normalize_gray(gray: np.ndarray) -> np.ndarray:
    """N x 48 x 48 (or 48 x 48) uint8 gray faces -> N x 3 x 48 x 48 float32 model input."""
    if gray.ndim == 2:
        gray = gray[None]
    x = gray.astype(np.float32) * PREPROCESSING["scale"]
    x = (x - PREPROCESSING["mean"]) / PREPROCESSING["std"]
    return np.repeat(x[:, None, :, :], 3, axis=1)


def preprocess(image: np.ndarray) -> np.ndarray:
    """One face image (any size, gray/BGR/BGRA uint8) -> 1 x 3 x 48 x 48 float32 model input."""
    return normalize_gray(to_gray48(image))
