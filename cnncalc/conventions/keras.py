"""Keras `model.summary()`: "Total params", "Trainable params", "Non-trainable params".

Keras counts every weight a layer holds (`layer.count_params()`, the sum of its
`weights`): BatchNormalization's moving_mean and moving_variance are weights too, not
trainable, so a batch norm over C channels shows 4C params of which 2C are non-trainable,
where PyTorch (and cnncalc) count 2C params and 2C buffers. Keras prints no MACs.
"""
from __future__ import annotations

from .core import Count, Figure, Seen, Tool

# the Keras layer class for each torch module class, where Keras has one
CLASSES = {
    "Conv1d": "Conv1D", "Conv2d": "Conv2D", "Conv3d": "Conv3D", "ConvTranspose2d": "Conv2DTranspose",
    "Linear": "Dense", "BatchNorm1d": "BatchNormalization", "BatchNorm2d": "BatchNormalization",
    "BatchNorm3d": "BatchNormalization", "LayerNorm": "LayerNormalization", "GroupNorm": "GroupNormalization",
    "MaxPool1d": "MaxPooling1D", "MaxPool2d": "MaxPooling2D", "MaxPool3d": "MaxPooling3D",
    "AvgPool1d": "AveragePooling1D", "AvgPool2d": "AveragePooling2D", "AvgPool3d": "AveragePooling3D",
    "ReLU": "ReLU", "Softmax": "Softmax", "Dropout": "Dropout", "Flatten": "Flatten", "Embedding": "Embedding",
    "Concat": "Concatenate", "ZeroPad2d": "ZeroPadding2D",
}


def count(seen: Seen) -> dict:
    statistics = seen.buffer_count
    held = "" if not statistics else "moving mean and variance are weights too: non-trainable params"
    frozen = 0 if seen.trainable else seen.param_count
    return {"params": Count(seen.param_count + statistics, held),
            "trainable": Count(seen.param_count - frozen),
            "non_trainable": Count(statistics + frozen, held)}


TOOL = Tool(
    name="keras", version="model.summary()", source="keras Layer.count_params, BatchNormalization",
    figures=(Figure("params", "Total params", lambda f: f.params),
             Figure("trainable", "Trainable params", lambda f: f.trainable_params),
             Figure("non_trainable", "Non-trainable params", lambda f: f.non_trainable_params)),
    key=lambda seen: CLASSES.get(seen.module, seen.module or "-"), count=count,
    remarks=("batch norm's moving statistics are counted as non-trainable params",))
