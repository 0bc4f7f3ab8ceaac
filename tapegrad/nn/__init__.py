"""``tapegrad.nn``: a small torch.nn -- ``Module``, ``Parameter``, ``Linear``, convolutions,
pooling, normalisation, embeddings, recurrent layers, containers, activation and loss modules,
``Dropout``, ``Identity``, ``Flatten``, and ``nn.functional`` / ``nn.init`` / ``nn.utils``.

>>> import tapegrad as tg
>>> tg.nn.Sequential(tg.nn.Linear(2, 16), tg.nn.Tanh(), tg.nn.Linear(16, 1))
Sequential(
  (0): Linear(in_features=2, out_features=16, bias=True)
  (1): Tanh()
  (2): Linear(in_features=16, out_features=1, bias=True)
)
"""

from . import functional, init, utils
from .activation import (
    GLU,
    Dropout1d,
    Dropout2d,
    Dropout3d,
    Hardshrink,
    Hardsigmoid,
    Hardswish,
    PReLU,
    Softshrink,
    Tanhshrink,
    Threshold,
)
from .attention import MultiheadAttention, TransformerEncoder, TransformerEncoderLayer
from .conv import Conv1d, Conv2d, Conv3d
from .conv_transpose import ConvTranspose1d, ConvTranspose2d
from .layers import *  # noqa: F403
from .layers import __all__ as _layers
from .margin import (
    CosineEmbeddingLoss,
    HingeEmbeddingLoss,
    MarginRankingLoss,
    MultiLabelSoftMarginLoss,
    MultiMarginLoss,
    SoftMarginLoss,
    TripletMarginLoss,
    TripletMarginWithDistanceLoss,
)
from .module import Module, Parameter
from .normalization import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    LayerNorm,
)
from .params import ParameterDict, ParameterList
from .pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
)
from .reshaping import (
    ChannelShuffle,
    CircularPad1d,
    CircularPad2d,
    CircularPad3d,
    ConstantPad1d,
    ConstantPad2d,
    ConstantPad3d,
    Fold,
    PixelShuffle,
    PixelUnshuffle,
    ReflectionPad1d,
    ReflectionPad2d,
    ReflectionPad3d,
    ReplicationPad1d,
    ReplicationPad2d,
    ReplicationPad3d,
    RMSNorm,
    Softmax2d,
    Unfold,
    UpsamplingBilinear2d,
    UpsamplingNearest2d,
    ZeroPad1d,
    ZeroPad2d,
    ZeroPad3d,
)
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from .sparse import Embedding
from .upsampling import Upsample

__all__ = [
    "Module", "Parameter", "functional", "init", "utils", *_layers,
    "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "MaxPool1d",
    "MaxPool2d", "MaxPool3d", "AvgPool1d",
    "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm",
    "InstanceNorm1d", "InstanceNorm2d", "RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase",
    "RNNCell", "LSTMCell", "GRUCell",
    "Hardswish", "Hardsigmoid", "Tanhshrink", "GLU", "PReLU", "Hardshrink", "Softshrink",
    "Threshold", "Dropout1d", "Dropout2d", "Dropout3d", "Embedding", "ParameterList",
    "ParameterDict", "MarginRankingLoss", "HingeEmbeddingLoss", "TripletMarginLoss",
    "MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder", "Upsample",
    "CosineEmbeddingLoss", "MultiLabelSoftMarginLoss", "MultiMarginLoss", "SoftMarginLoss",
    "TripletMarginWithDistanceLoss", "Fold", "Unfold",
    "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
    "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d",
    "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d",
    "PixelShuffle", "PixelUnshuffle", "ChannelShuffle", "Softmax2d", "UpsamplingNearest2d",
    "UpsamplingBilinear2d", "RMSNorm",
]
