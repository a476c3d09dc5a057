"""Associative retrieval task (Ba et al. 2016).

k/2 distinct letters, each followed by a digit, then '??' and one of the letters as
the query: ``c9k8j3f1??c`` -> 9. Tokens: 26 letters, 10 digits and '?' (37). All
letters and all digits are used. The context is the first token, embedded by the
model.
"""

import torch

from contextual_rnn.data.base import Batch, SequenceTask, TaskSpec
from contextual_rnn.errors import positive_int, require

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789?"
NUM_LETTERS, NUM_DIGITS = 26, 10
QUERY_TOKEN = ALPHABET.index("?")
CONTEXTS = ("first_token", "none")


class ART(SequenceTask):
    name = "art"

    def __init__(
        self,
        k: int = 8,
        train_size: int = 100_000,
        val_size: int = 20_000,
        context: str = "first_token",
    ):
        require(
            isinstance(k, int) and k % 2 == 0 and 2 <= k <= 2 * NUM_LETTERS,
            "k",
            k,
            f"an even integer from 2 to {2 * NUM_LETTERS}",
        )
        require(context in CONTEXTS, "context", context, " or ".join(CONTEXTS))
        self.k = k
        self.sizes = {
            "train": positive_int("train_size", train_size),
            "val": positive_int("val_size", val_size),
        }
        self.context = context

    @property
    def sequence_length(self) -> int:
        return self.k + 3

    def sample(self, n: int, generator: torch.Generator) -> Batch:
        pairs = self.k // 2
        letters = torch.rand(n, NUM_LETTERS, generator=generator).argsort(dim=1)[:, :pairs]
        digits = torch.randint(0, NUM_DIGITS, (n, pairs), generator=generator)
        query = torch.randint(0, pairs, (n,), generator=generator)
        rows = torch.arange(n)
        keys_values = torch.stack([letters, digits + NUM_LETTERS], dim=2).reshape(n, self.k)
        tail = torch.stack(
            [torch.full((n,), QUERY_TOKEN), torch.full((n,), QUERY_TOKEN), letters[rows, query]],
            dim=1,
        )
        return {"inputs": torch.cat([keys_values, tail], dim=1), "targets": digits[rows, query]}

    def generate(self, split, generator):
        return self.sample(self.sizes[split], generator)

    def make_spec(self, train):
        return TaskSpec(
            name=self.name,
            kind="classification",
            input_kind="tokens",
            input_size=len(ALPHABET),
            output_size=NUM_DIGITS,
            sequence_length=self.sequence_length,
            context=None if self.context == "none" else "first_token",
            extra={"k": self.k},
        )


def encode_text(text: str) -> torch.Tensor:
    """``"c9k8j3f1??c"`` -> token ids (no validation of the task's format)."""
    return torch.tensor([ALPHABET.index(ch) for ch in text])


def decode_tokens(tokens) -> str:
    return "".join(ALPHABET[int(t)] for t in tokens)
