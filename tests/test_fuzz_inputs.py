"""Generated hostile inputs (issue 16): FASTA files (plain and gzip), checkpoint manifests and
structure files. No input may give anything but a result or one clear line, and memory stays
under a stated bound: Python allocations (tracemalloc) per input, and the process's peak
resident memory (which also sees PyTorch's allocations) over the whole run.
"""

from __future__ import annotations

import copy
import gzip
import json
import resource
import tempfile
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import synthetic
from protloc.errors import UserError
from protloc.predictor import EnsemblePredictor
from protloc.sequences import InputError, read_fasta

#: Python memory any one generated input may take to read (inputs are at most a few KB, and a
#: reader's pieces are 1 MiB).
PYTHON_BOUND = 24 * 2**20
#: Growth of the process's peak resident memory allowed over all generated manifests: a model
#: of the largest accepted size could not be built within it.
RESIDENT_BOUND = 400 * 2**20

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

FASTA_ALPHABET = "ACDEFGHIKLMNPQRSTVWYXBZJUOacgt*-.0123456789 \t\r\n>>>;=+@'\"<&é€\x00\x07\ufeff"
fasta_text = st.text(alphabet=FASTA_ALPHABET, max_size=2000)
fasta_bytes = st.one_of(
    fasta_text.map(str.encode),
    fasta_text.map(lambda t: gzip.compress(t.encode())),
    fasta_text.map(lambda t: gzip.compress(t.encode())[: max(2, len(t) // 3)]),  # truncated
    fasta_text.map(lambda t: gzip.compress(gzip.compress(t.encode()))),  # compressed twice
    st.binary(max_size=2000),
)


def resident_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def one_line(message: str) -> None:
    assert message and "\n" not in message and "Traceback" not in message, message


def python_peak(read):
    """``read()``'s outcome (a value or the UserError) and its peak Python allocation."""
    tracemalloc.start()
    try:
        outcome = read()
    except UserError as exc:
        outcome = exc
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return outcome, peak


@FUZZ
@given(data=fasta_bytes, name=st.sampled_from(["in.fasta", "in.fasta.gz", "in.txt"]))
def test_any_fasta_file_gives_records_or_one_line_in_bounded_memory(data, name) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        outcome, peak = python_peak(lambda: read_fasta(path))
    if isinstance(outcome, UserError):
        assert isinstance(outcome, InputError)
        one_line(str(outcome))
    else:
        assert outcome and [r.index for r in outcome] == list(range(len(outcome)))
    assert peak < PYTHON_BOUND, f"{peak / 2**20:.1f} MiB"


# ------------------------------------------------------------------------------ manifests

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)


def _paths(value, prefix=()):
    """Every key path in a JSON document."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


@pytest.fixture(scope="module")
def good_manifest(tmp_path_factory):
    folder = synthetic.write_random_checkpoint(tmp_path_factory.mktemp("fuzz") / "set")
    EnsemblePredictor.from_dir(folder)  # first-time imports are not the input's doing
    return folder, json.loads((folder / "manifest.json").read_text())


@FUZZ
@given(data=st.data())
def test_any_manifest_loads_or_gives_one_line_in_bounded_memory(good_manifest, data) -> None:
    folder, original = good_manifest
    manifest = copy.deepcopy(original)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(list(_paths(manifest))))
        manifest = _replace(manifest, path, data.draw(json_values))
    text = json.dumps(manifest)  # NaN and Infinity included, as Python's reader accepts them
    resident = resident_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "set"
        target.mkdir()
        for weights in folder.glob("*.safetensors"):
            (target / weights.name).symlink_to(weights)
        (target / "manifest.json").write_text(text)
        outcome, peak = python_peak(lambda: EnsemblePredictor.from_dir(target))
    if isinstance(outcome, UserError):
        one_line(str(outcome))
    assert peak < PYTHON_BOUND, f"{peak / 2**20:.1f} MiB"
    assert resident_bytes() - resident < RESIDENT_BOUND


def _replace(document, path, value):
    if not path:
        return value
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return document


# ---------------------------------------------------------------------- structure files

structure = pytest.importorskip("protloc.structure")
#: structure.py reads a gzip member with one read of MAX_STRUCTURE_BYTES + 1, for which
#: Python sets aside that much at once, however small the file: the bound is that plus 14 MiB.
STRUCTURE_BOUND = structure.MAX_STRUCTURE_BYTES + 14 * 2**20

PDB_LINE = ("ATOM      1  CA  ALA A   1      11.104   6.134  -6.504  1.00  0.00           C\n")
structure_text = st.one_of(
    st.text(max_size=1500),
    st.lists(st.sampled_from([PDB_LINE, PDB_LINE.replace("ALA", "XYZ"), "HETATM\n", "END\n",
                              "data_x\n", "loop_\n", "_atom_site.id\n", "ATOM 1 2 3\n"]),
             max_size=40).map("".join),
)
structure_bytes = st.one_of(
    structure_text.map(str.encode),
    structure_text.map(lambda t: gzip.compress(t.encode())),
    structure_text.map(lambda t: gzip.compress(t.encode())[:12]),
    st.binary(max_size=1500),
)


@FUZZ
@given(data=structure_bytes, name=st.sampled_from(["s.pdb", "s.cif", "s.pdb.gz", "s.ent"]))
def test_any_structure_file_is_read_or_gives_one_line(data, name) -> None:
    tracemalloc.start()
    try:
        structure.read_structure(data, name)
    except (structure.StructureError, UserError) as exc:
        one_line(str(exc.args[0]) if exc.args else "")
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < STRUCTURE_BOUND, f"{peak / 2**20:.1f} MiB"
