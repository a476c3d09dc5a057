"""Read what a W&B run logged straight from its ``run-<id>.wandb`` file (offline runs too).

The tests' one reader of W&B's files (nothing in the project reads them). Recent wandb
versions have no API that reads offline runs, so this decodes the file:
a ``:W&B`` header (magic 0xBEE1, a version byte), then 32 KiB blocks of records,
each a 7-byte header (crc32, length, type: 1 full, 2 first, 3 middle, 4 last)
and the bytes of a ``wandb_internal_pb2.Record``.
"""

import json
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

BLOCK_SIZE = 32 * 1024
HEADER_SIZE = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def record_payloads(path: str | Path) -> Iterator[bytes]:
    data = Path(path).read_bytes()
    if data[:4] != b":W&B" or struct.unpack("<H", data[4:6])[0] != 0xBEE1:
        raise ValueError(f"{path}: not a W&B run file")
    position, pending = HEADER_SIZE, b""
    while position + HEADER_SIZE <= len(data):
        left_in_block = BLOCK_SIZE - position % BLOCK_SIZE
        if left_in_block < HEADER_SIZE:  # the block's tail is padding
            position += left_in_block
            continue
        checksum, length, kind = struct.unpack("<IHB", data[position : position + HEADER_SIZE])
        if kind == 0 and length == 0:  # zero padding up to the next block
            position += left_in_block
            continue
        start = position + HEADER_SIZE
        payload = data[start : start + length]
        position = start + length
        if zlib.crc32(bytes([kind]) + payload) & 0xFFFFFFFF != checksum or len(payload) < length:
            break  # a torn write at the end of a killed run
        if kind == FULL:
            yield payload
        elif kind == FIRST:
            pending = payload
        elif kind == MIDDLE:
            pending += payload
        elif kind == LAST:
            yield pending + payload


def records(path: str | Path):
    from wandb.proto import wandb_internal_pb2

    for payload in record_payloads(path):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(payload)
        yield record


def history(path: str | Path) -> list[dict]:
    """Every ``wandb.log`` call of the run, in order, as {key: value}."""
    rows = []
    for record in records(path):
        if record.WhichOneof("record_type") == "history":
            rows.append(
                {
                    (item.key or "/".join(item.nested_key)): json.loads(item.value_json)
                    for item in record.history.item
                }
            )
    return rows


def last_updates(path: str | Path, kind: str) -> dict:
    """The last value of each key of a run's ``config`` or ``summary`` records."""
    values = {}
    for record in records(path):
        if record.WhichOneof("record_type") == kind:
            for item in getattr(record, kind).update:
                values[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
    return values


def run_config(path: str | Path) -> dict:
    """The run's config as logged."""
    return last_updates(path, "config")


def summary(path: str | Path) -> dict:
    """The run's summary as written last."""
    return last_updates(path, "summary")


def exit_code(path: str | Path) -> int | None:
    """The exit code the run was closed with (None if it never was: a killed process)."""
    for record in records(path):
        if record.WhichOneof("record_type") == "exit":
            return record.exit.exit_code
    return None


def run_info(path: str | Path) -> dict:
    """Name, group, project and id of the run."""
    for record in records(path):
        if record.WhichOneof("record_type") == "run":
            run = record.run
            return {
                "id": run.run_id,
                "name": run.display_name,
                "group": run.run_group,
                "project": run.project,
                "job_type": run.job_type,
            }
    raise ValueError(f"{path}: no run record")


def run_file(run_dir: str | Path) -> Path:
    """The ``run-<id>.wandb`` file inside an ``offline-run-*`` (or ``run-*``) folder."""
    return next(Path(run_dir).glob("run-*.wandb"))


def run_files(output_dir: str | Path) -> list[Path]:
    """Every W&B file of a run folder, oldest attempt first (a resumed run adds one)."""
    files = Path(output_dir).glob("wandb/*run-*/run-*.wandb")
    return sorted(files, key=lambda p: (p.parent.name.split("-")[2], p.stat().st_mtime))


def run_history(output_dir: str | Path) -> list[dict]:
    """The run's history over all its attempts as a chart against ``trainer/global_step``
    shows it: one row per step holding each key's latest value. A resumed attempt (a new
    offline-run folder of the same run id) logs again what followed its checkpoint, and
    its values replace the earlier attempt's, as when both are synced into one run."""
    steps: dict[int, dict] = {}
    for path in run_files(output_dir):
        for row in history(path):
            steps.setdefault(row["trainer/global_step"], {}).update(row)
    return [steps[step] for step in sorted(steps)]
