"""Checking a model's files before anything loads them: names within limits, the files a task needs, weights intact.

transformers and diffusers fail on a missing tokenizer or a truncated weights file in many ways (a traceback deep
in their code, or worse: a tokenizer with an empty vocabulary that runs and writes a valid-looking result). These
checks look at a local folder first and name the missing or broken file in one `HarnessError` line. A hub id is
checked by the libraries' own download code, which names what is missing.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from harness.errors import ConfigError
from harness.files import check_tree, read_bounded, unprintable
from harness.kinds import IMAGE_KINDS

MAX_PATH_COMPONENT_BYTES = 255
MAX_PATH_BYTES = 4096

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "spiece.model", "vocab.txt",
                   "vocab.json", "sentencepiece.bpe.model")
"""Any one of these in the folder is a tokenizer transformers can load (the rest are checked by loading it)."""

WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.pt", "*.pth", "*.msgpack", "*.h5")

MAX_SAFETENSORS_HEADER_BYTES = 100 * 1024**2
"""safetensors' own limit on the JSON header."""

_DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "U16": 2, "I16": 2, "F16": 2, "BF16": 2,
                "U32": 4, "I32": 4, "F32": 4, "U64": 8, "I64": 8, "F64": 8}


class ModelFilesError(ConfigError):
    """A model folder lacks a file its task needs, or holds a broken one."""


def check_model_name(model_id: str | None, option: str = "--model") -> None:
    """Refuse a `--model` that cannot be a hub id or a path (empty, a component over 255 bytes, over 4096), and a
    name that results and pages show (`--model-id`) that is empty, too long or holds a control character or a
    bidi override (`harness.files.unprintable`); None (no `--model-id`) passes."""
    if model_id is None:
        return
    text = str(model_id)
    if not text.strip():
        raise ConfigError(f"{option} is empty")
    encoded = text.encode("utf-8", "surrogatepass")
    if unprintable(text) is not None:
        raise ConfigError(f"{option} {text[:60]!r}: holds the control character {unprintable(text)}")
    if "\x00" in text or len(encoded) > MAX_PATH_BYTES or any(
        len(part.encode("utf-8", "surrogatepass")) > MAX_PATH_COMPONENT_BYTES for part in text.split("/")
    ):
        raise ConfigError(f"{option} {text[:60]!r}...: not a hub id or a path (too long, or a NUL character)")


def _weights(folder: Path) -> list[Path]:
    return sorted({path for pattern in WEIGHT_PATTERNS for path in folder.rglob(pattern) if path.is_file()})


def check_safetensors(path: Path) -> int:
    """A `.safetensors` file whose header parses and whose tensors all lie inside the file, else one line; returns
    how many values (parameters) its tensors hold.

    Reads only the header: random bytes, a truncated download or a header pointing past the end are caught
    before torch maps the file.
    """
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            raise ModelFilesError(f"{path}: broken weights file ({size} bytes, too short for a safetensors header)")
        header_bytes = int.from_bytes(head, "little")
        if header_bytes > min(size - 8, MAX_SAFETENSORS_HEADER_BYTES):
            raise ModelFilesError(f"{path}: broken weights file (its header claims {header_bytes} bytes of "
                                  f"{size}; truncated or not safetensors)")
        raw = handle.read(header_bytes)
    try:
        header = json.loads(raw.decode("utf-8"))
        check_tree(header, str(path), error=ModelFilesError)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ModelFilesError(f"{path}: broken weights file (its header is not valid JSON)") from None
    if not isinstance(header, dict):
        raise ModelFilesError(f"{path}: broken weights file (its header is not a JSON object)")
    data_bytes = size - 8 - header_bytes
    values = 0
    for name, tensor in header.items():
        if name == "__metadata__":
            continue
        try:
            begin, end = tensor["data_offsets"]
            count = math.prod(int(n) for n in tensor["shape"])
            width = _DTYPE_BYTES.get(tensor["dtype"])
        except (KeyError, TypeError, ValueError):
            raise ModelFilesError(f"{path}: broken weights file (tensor {name!r} is badly described)") from None
        if not (isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end):
            raise ModelFilesError(f"{path}: broken weights file (tensor {name!r} has bad offsets)")
        if end > data_bytes:
            raise ModelFilesError(f"{path}: broken weights file (tensor {name!r} ends at byte {end} of "
                                  f"{data_bytes}: truncated)")
        if width is not None and end - begin != count * width:
            raise ModelFilesError(f"{path}: broken weights file (tensor {name!r} has {end - begin} bytes for "
                                  f"{count} {tensor['dtype']} values)")
        values += count
    return values


def saved_parameters(folder: Path) -> int | None:
    """Parameters of a saved model read from its safetensors headers alone (a model a server loads is never in
    this process); None where its weights are not safetensors."""
    files = [path for path in _weights(Path(folder).expanduser()) if path.suffix == ".safetensors"]
    return sum(check_safetensors(path) for path in files) if files else None


def _check_json_files(folder: Path) -> None:
    """Every config JSON in the folder parses (the libraries' own errors about them are tracebacks)."""
    for path in sorted(folder.rglob("*.json")):
        if not path.is_file() or path.name.startswith("."):
            continue
        try:
            json.loads(read_bounded(path, error=ModelFilesError).decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise ModelFilesError(f"{path}: broken model file (not valid JSON)") from None


def check_model_folder(kind: str, folder: Path, *, random_weights: bool = False) -> None:
    """The files task `kind` needs are in the local model `folder`, and its weights files are intact.

    Text kinds need a tokenizer (an image kind's image processor is checked by the loader, after the model's
    kind); every kind needs weights unless `random_weights` builds them from the config.
    """
    folder = Path(folder).expanduser()
    _check_json_files(folder)
    if (kind == "image-gen") != (folder / "model_index.json").is_file():
        return  # a model of the other family: the loader's kind check says so in its own words
    if kind not in ("image-gen", *IMAGE_KINDS) and not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise ModelFilesError(f"model folder {folder} has no tokenizer (none of {', '.join(TOKENIZER_FILES[:4])}, "
                              f"...): save it with tokenizer.save_pretrained")
    weights = _weights(folder)
    if not random_weights and not weights:
        raise ModelFilesError(f"model folder {folder} has no weights files (*.safetensors or *.bin); save the "
                              f"model with save_pretrained, or pass --random-weights")
    if not random_weights:
        for path in weights:
            if path.suffix == ".safetensors":
                check_safetensors(path)


def check_tokenizer(tokenizer, model_id: str) -> None:
    """A loaded tokenizer with an empty vocabulary would run and measure nothing sensible: refuse it."""
    try:
        size = len(tokenizer)
    except TypeError:
        return
    if size == 0:
        raise ModelFilesError(f"{model_id}: its tokenizer has an empty vocabulary (tokenizer files missing?)")
