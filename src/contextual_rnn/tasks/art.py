"""Associative retrieval task (Ba et al. 2016).

k/2 distinct letters, each followed by a digit, then '??' and one of the letters as
the query: ``c9k8j3f1??c`` -> 9. Tokens: 26 letters, 10 digits and '?' (37). All
letters and all digits are used. The context is the first token, embedded by the
model. ``classes``: ``digits`` (10 classes, the answer) or ``vocabulary`` (37 classes,
one per token, the digit's token being the target: the authors' logits layer).
"""

import torch

from contextual_rnn.errors import InputError, PositiveInt, checked, choice, integer, that
from contextual_rnn.tasks.base import Batch, ClassificationTask, TaskLayout

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789?"
NUM_LETTERS, NUM_DIGITS = 26, 10
QUERY_TOKEN = ALPHABET.index("?")
K = integer(
    f"an even integer from 2 to {2 * NUM_LETTERS}", that(lambda k: k % 2 == 0 and 2 <= k <= 52)
)


class ART(ClassificationTask):
    val_size_option = "val_size"

    @checked
    def __init__(
        self,
        k: K = 8,
        train_size: PositiveInt = 100_000,
        val_size: PositiveInt = 20_000,
        context: choice("first_token", "none") = "first_token",
        classes: choice("digits", "vocabulary") = "digits",
    ):
        self.k, self.context, self.classes = k, context, classes
        self.sizes = {"train": train_size, "val": val_size}

    @property
    def layout(self) -> TaskLayout:
        return TaskLayout(
            input_kind="tokens",
            input_size=len(ALPHABET),
            output_size=NUM_DIGITS if self.classes == "digits" else len(ALPHABET),
            sequence_length=self.k + 3,
            context=None if self.context == "none" else "first_token",
        )

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

    def encode(self, raw):
        offset = 0 if self.classes == "digits" else NUM_LETTERS
        return {"inputs": raw["inputs"], "targets": raw["targets"] + offset}

    def parse_query(self, text: str) -> torch.Tensor:
        check_query(text, self.k)
        return encode_text(text)[None]

    def describe_class(self, index: int) -> str:
        return ALPHABET[index + (NUM_LETTERS if self.classes == "digits" else 0)]


def check_query(text: str, k: int) -> None:
    """Raise InputError unless ``text`` is a query for this k (like c9k8j3f1??c for k=8)."""
    length = k + 3
    form = f"{k // 2} letter-digit pairs, '??', then one of the letters (like c9k8j3f1??c)"
    if len(text) != length:
        raise InputError(
            f"{text!r} has {len(text)} characters; this model (k={k}) needs {length}: {form}"
        )
    if bad := sorted({ch for ch in text if ch not in ALPHABET}):
        raise InputError(f"{text!r}: characters {bad} are not lowercase letters, digits or '?'")
    letters, digits = text[0:k:2], text[1:k:2]
    if not all(ch in ALPHABET[:NUM_LETTERS] for ch in letters):
        raise InputError(f"{text!r}: positions 1, 3, ... of the pairs must be letters: {form}")
    if not all(ch.isdigit() for ch in digits):
        raise InputError(f"{text!r}: positions 2, 4, ... of the pairs must be digits: {form}")
    if len(set(letters)) != len(letters):
        raise InputError(f"{text!r}: the letters of the pairs must be distinct")
    if text[k : k + 2] != "??":
        raise InputError(f"{text!r}: expected '??' after the pairs: {form}")
    if text[-1] not in letters:
        raise InputError(f"{text!r}: the query {text[-1]!r} is not one of the keys {letters!r}")


def encode_text(text: str) -> torch.Tensor:
    """``"c9k8j3f1??c"`` -> token ids (no validation of the task's format)."""
    return torch.tensor([ALPHABET.index(ch) for ch in text])


def decode_tokens(tokens) -> str:
    return "".join(ALPHABET[int(t)] for t in tokens)
