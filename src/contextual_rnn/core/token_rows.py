"""Embedded tokens that a linear layer maps through the table, not through every position.

An embedding of B x T tokens followed by a linear map W costs B*T*D*H multiply-adds
and as many twice over in the backward. The same numbers come from mapping the V
table rows once and picking rows: ``linear(table[tokens]) == linear(table)[tokens]``.
``TokenRows`` is the embedded tensor (its values are ``table[tokens]``, usable as any
tensor) that remembers the table and the tokens, so that the first linear layer a
cell or an initial state applies to it takes the cheap route. Anything else sees a
plain tensor. At ART's sizes this makes the fast-weights input map 3x and the
contextual network g 2x cheaper (docs/performance.md); tests tie it to the plain path.
"""

import torch
from torch.nn import functional as F


class TokenRows(torch.Tensor):
    tokens: torch.Tensor
    table: torch.Tensor

    @staticmethod
    def embed(tokens: torch.Tensor, table: torch.Tensor) -> "TokenRows":
        rows = F.embedding(tokens, table).as_subclass(TokenRows)
        rows.tokens, rows.table = tokens, table
        return rows

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.linear and isinstance(args[0], TokenRows):
            rows, weight = args[0], args[1]
            bias = args[2] if len(args) > 2 else kwargs.get("bias")
            return F.embedding(rows.tokens, F.linear(rows.table, weight, bias))
        plain = [a.as_subclass(torch.Tensor) if isinstance(a, TokenRows) else a for a in args]
        return torch.Tensor.__torch_function__(func, (torch.Tensor,), plain, kwargs)  # plain
