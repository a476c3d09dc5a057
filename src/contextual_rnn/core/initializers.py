"""Weight initialisers of the authors' TensorFlow 1.12 code, next to torch's defaults.

- ``he``: TF's ``variance_scaling_initializer(scale=2.0)``, whose default distribution
  is a normal truncated at two standard deviations, rescaled so that the truncated
  values have standard deviation sqrt(2 / fan_in); biases zero. The authors' code uses
  it for every dense layer (context network g, ART's dense 100 and logits, LCD's
  output). ``torch``: ``nn.Linear``'s own default, U(+-1/sqrt(fan_in)) for both.
- ``glorot_uniform_``: TF's default for variables created without an initialiser,
  U(+-sqrt(6 / (fan_in + fan_out))); a vector of size n has fan_in = fan_out = n.

Sources for every use: docs/paper_setup.md.
"""

import math

import torch
from torch import nn

from contextual_rnn.core.errors import choice

LinearInit = choice("he", "torch")
# scipy.stats.truncnorm(-2, 2).std(): TF divides by it so the truncated values keep the std.
TRUNCATED_STD = 0.87962566103423978


@torch.no_grad()
def he_truncated_normal_(weight: torch.Tensor, fan_in: int) -> torch.Tensor:
    std = math.sqrt(2.0 / fan_in) / TRUNCATED_STD
    return nn.init.trunc_normal_(weight, 0.0, std, -2 * std, 2 * std)


@torch.no_grad()
def glorot_uniform_(tensor: torch.Tensor, fan_in: int, fan_out: int) -> torch.Tensor:
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    return tensor.uniform_(-bound, bound)


@torch.no_grad()
def init_linear(layer: nn.Linear, scheme: str) -> nn.Linear:
    """Initialise a Linear layer by ``scheme`` (``he`` or ``torch``)."""
    if scheme == "he":
        he_truncated_normal_(layer.weight, layer.in_features)
        if layer.bias is not None:
            layer.bias.zero_()
    else:
        layer.reset_parameters()
    return layer


def mlp(
    in_size: int,
    hidden_sizes: list[int],
    out_size: int,
    init: str = "torch",
    activation: type[nn.Module] = nn.ReLU,
) -> nn.Sequential:
    """Linear layers with ``activation`` between them; one Linear when hidden_sizes is empty."""
    layers, width = [], in_size
    for size in hidden_sizes:
        layers += [init_linear(nn.Linear(width, size), init), activation()]
        width = size
    layers.append(init_linear(nn.Linear(width, out_size), init))
    return nn.Sequential(*layers)
