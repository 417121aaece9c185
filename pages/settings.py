"""The app's settings: where checkpoint sets are found, and its upload and batch limits.

Stated here once, so the pages cannot drift from each other; ``tests/test_pages_settings.py``
checks ``MAX_UPLOAD_MB`` against ``.streamlit/config.toml``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from protloc.errors import UserError
from protloc.predictor import DEFAULT_CHECKPOINT, available_checkpoints

#: Environment variable naming a folder of checkpoint sets (each a folder with manifest.json).
CHECKPOINTS_ENV = "PROTLOC_CHECKPOINTS"
#: Where the app looks for checkpoint sets when the variable is unset.
DEFAULT_CHECKPOINT_ROOT = DEFAULT_CHECKPOINT.parent

#: Most sequences the app predicts in one batch (the CLI takes up to 10,000).
APP_BATCH_LIMIT = 1_000
#: Most sequences on the single-prediction page (more: use the Batch page).
SINGLE_PAGE_LIMIT = 10
#: Upload size limit in MB; must match ``server.maxUploadSize`` in .streamlit/config.toml.
MAX_UPLOAD_MB = 20
#: File name endings the Batch page reads (FASTA text, gzip-compressed FASTA, or a CSV/TSV
#: table with id, sequence and group columns).
FASTA_UPLOAD_TYPES: tuple[str, ...] = ("fasta", "fa", "faa", "fas", "fsa", "txt", "gz", "csv", "tsv")
#: File name endings the Structure page reads (PDB or mmCIF text, or gzip-compressed).
STRUCTURE_UPLOAD_TYPES: tuple[str, ...] = ("pdb", "ent", "cif", "mmcif", "gz")


def check_upload_name(name: str, allowed: Sequence[str]) -> None:
    """Refuse an uploaded file whose name does not end in one of ``allowed`` (without dots).

    Streamlit filters by extension in the browser and again on the server; this check states
    the rule in the library, so the pages cannot drift from it, with a message for the user.
    The content is still checked by the parsers (a binary file named .fasta is refused there).
    """
    suffixes = [s.lower() for s in Path(name).suffixes]
    if "\0" in name or not suffixes or suffixes[-1].lstrip(".") not in allowed:
        listed = ", ".join(f".{ext}" for ext in allowed)
        raise UserError(f"{name!r} is not an accepted file type; upload one of: {listed}.")


def checkpoint_root() -> Path:
    """The folder of checkpoint sets: ``$PROTLOC_CHECKPOINTS`` if set, else ``checkpoints/``."""
    value = os.environ.get(CHECKPOINTS_ENV, "").strip()
    return Path(value) if value else DEFAULT_CHECKPOINT_ROOT


def checkpoint_sets(root: str | os.PathLike | None = None) -> list[Path]:
    """Checkpoint sets under ``root`` (default :func:`checkpoint_root`), ``default`` first."""
    return available_checkpoints(checkpoint_root() if root is None else Path(root))
