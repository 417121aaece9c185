"""Faults and hostile inputs tried against protloc, and what happened: the source of
docs/reliability.md.

Each :class:`Case` runs one fault for real and returns what happened as one line (the user's
message, or what the output held). ``tests/test_reliability.py`` checks every outcome against
the behaviour the case expects; ``tests/test_reliability.py`` (``PROTLOC_REFRESH_DOCS=1``) renders the outcomes into the
table, and a test keeps the committed table equal to a fresh rendering. Nothing in the table is
typed by hand.
"""

from __future__ import annotations

import gzip
import io
import json
import pickle
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd
import torch

import synthetic
from pages import settings
from protloc.checkpoint import build_fold_model, read_manifest
from protloc.cli import main
from protloc.embedders.esm2 import safe_torch_load
from protloc.errors import UserError
from protloc.sequences import MAX_LENGTH, MAX_RECORDS, MAX_TOTAL_RESIDUES, parse_bytes

PROTEIN = "MKKTAIAIAVALAGFATVAQAAPKDNTWYTGAKLGWSQYHDTGFINNNGPTHENQLGAGAFGGYQVNPYVGFEMGYDWLG"
#: Marker a hostile pickle would create if it ever ran.
PWNED = "pwned.txt"


@dataclass(frozen=True)
class Case:
    id: str
    area: str
    fault: str  # what was tried, as the table says it
    expect: str  # regular expression the observed outcome must match (re.search)
    run: Callable[[Path], str]  # does it in a fresh folder, returns what happened, one line


# ----------------------------------------------------------------------------- helpers


def parsed(data: bytes, name: str = "upload.fasta") -> str:
    """What parsing (app upload, CLI, API alike) made of ``data``."""
    try:
        records = parse_bytes(data, name=name)
    except UserError as exc:
        return f"refused as a whole: {exc}"
    errors = [r for r in records if r.status == "error"]
    summary = f"{len(records)} record(s), {len(records) - len(errors)} predictable"
    if errors:
        summary += f"; {errors[0].id}: error: {' '.join(errors[0].messages)}"
    return summary


def cli_predict(folder: Path, fasta_text: str, checkpoint: Path | None = None) -> str:
    """`protloc predict` on ``fasta_text``: the exit code and what results.csv holds."""
    checkpoint = checkpoint or synthetic.write_random_checkpoint(folder / "ckpt")
    fasta = folder / "in.fasta"
    fasta.write_text(fasta_text, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    code = main(["predict", "-f", str(fasta), "-o", str(folder / "out"), "-m", str(checkpoint)],
                stdout=out, stderr=err)
    if code:
        return f"exit {code}; stderr: {err.getvalue().strip()}"
    table = pd.read_csv(folder / "out" / "results.csv", dtype=str, keep_default_na=False)
    cells = [f"{row.ID}={row.Localization and 'predicted' or 'error: ' + row.Error}"
             for row in table.itertuples()]
    return f"exit 0; {len(table)} rows in input order: " + " | ".join(cells)


def load_set(folder: Path) -> str:
    """Loading every fold model of the checkpoint set in ``folder``."""
    try:
        manifest = read_manifest(folder)
        for fold in manifest.folds:
            build_fold_model(manifest, fold, folder)
    except UserError as exc:
        return f"refused: {exc}"
    return "loaded"


def outcome_of_payload(folder: Path, outcome: str) -> str:
    ran = (folder / PWNED).exists()
    return f"{outcome}; payload ran: {'YES' if ran else 'no'}"


class _Payload:
    """A pickle that, when unpickled, would write a marker file (stands for any code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "pwned"))


def hostile_pickle(folder: Path) -> bytes:
    return pickle.dumps({"state": _Payload(folder / PWNED)}, protocol=4)


def hostile_torch_file(path: Path) -> None:
    torch.save({"model": _Payload(path.parent / PWNED)}, path)


def tiny_set(folder: Path) -> Path:
    return synthetic.write_random_checkpoint(folder / "set")


def edit_manifest(directory: Path, **fold0: object) -> None:
    path = directory / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["folds"][0].update(fold0)
    path.write_text(json.dumps(manifest))


def gzip_bomb(decompressed: int) -> bytes:
    """``decompressed`` bytes of letters, gzip-compressed in chunks (about 1000:1). Letters,
    not zero bytes: zero bytes are refused as binary in the first MiB, before the size cap."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: a gzip container
    chunk = b"ACDEFGHIKLMNPQRS" * 2**16
    parts = [packer.compress(chunk) for _ in range(decompressed // len(chunk))]
    return b"".join(parts) + packer.flush()


# ------------------------------------------------------------------------------- cases


def _case_pickle_as_safetensors(folder: Path) -> str:
    directory = tiny_set(folder)
    (directory / "fold_0.safetensors").write_bytes(hostile_pickle(folder))
    return outcome_of_payload(folder, load_set(directory))


def _case_torch_file_as_safetensors(folder: Path) -> str:
    directory = tiny_set(folder)
    hostile_torch_file(directory / "fold_0.safetensors")
    return outcome_of_payload(folder, load_set(directory))


def _case_pickle_listed_as_pt(folder: Path) -> str:
    directory = tiny_set(folder)
    hostile_torch_file(directory / "fold_0.pt")
    edit_manifest(directory, weights="fold_0.pt")
    return outcome_of_payload(folder, load_set(directory))


def _case_weights_outside_set(folder: Path) -> str:
    directory = tiny_set(folder)
    synthetic.write_random_checkpoint(folder / "elsewhere")
    edit_manifest(directory, weights="../elsewhere/fold_0.safetensors")
    return load_set(directory)


def _case_esm_pickle(folder: Path) -> str:
    path = folder / "esm2_t6_8M_UR50D.pt"
    hostile_torch_file(path)
    try:
        safe_torch_load(path)
        outcome = "loaded"
    except UserError as exc:
        outcome = f"refused: {exc}"
    return outcome_of_payload(folder, outcome)


def _case_manifest_not_json(folder: Path) -> str:
    directory = tiny_set(folder)
    (directory / "manifest.json").write_text("{not json", encoding="utf-8")
    return load_set(directory)


def _case_manifest_wrong_types(folder: Path) -> str:
    directory = tiny_set(folder)
    (directory / "manifest.json").write_text(json.dumps({"name": 1, "folds": "x"}))
    return load_set(directory)


def _case_upload_name(name: str, allowed: tuple[str, ...]) -> Callable[[Path], str]:
    def run(folder: Path) -> str:
        try:
            settings.check_upload_name(name, allowed)
        except UserError as exc:
            return f"refused: {exc}"
        return "accepted"

    return run


def _fasta(n: int, length: int) -> str:
    body = (PROTEIN * (length // len(PROTEIN) + 1))[:length]
    return "".join(f">p{i}\n{body}\n" for i in range(n))


CASES: list[Case] = [
    # --- whole input unusable: one message, nothing predicted
    Case("empty", "input", "empty upload (0 bytes)", r"^refused as a whole: No sequence found",
         lambda f: parsed(b"")),
    Case("binary", "input", "a PNG image named proteins.fasta",
         r"^refused as a whole: .*binary file",
         lambda f: parsed(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64), "proteins.fasta")),
    Case("utf16", "input", "FASTA saved as UTF-16", r"^refused as a whole: .*UTF-16",
         lambda f: parsed(f">p\n{PROTEIN}\n".encode("utf-16"))),
    Case("latin1", "input", "Latin-1 text (not UTF-8) in a header",
         r"^refused as a whole: .*not valid UTF-8: byte 0xE9 at offset",
         lambda f: parsed(f">prot\u00e9ine\n{PROTEIN}\n".encode("latin-1"))),
    Case("bad-gzip", "input", "a truncated .gz file",
         r"^refused as a whole: .*could not be decompressed",
         lambda f: parsed(gzip.compress(f">p\n{PROTEIN}\n".encode())[:30], "in.fasta.gz")),
    Case("gzip-bomb", "input", "a 0.6 MB .gz that unpacks to 600 MiB (decompression bomb)",
         r"^refused as a whole: .*decompresses to more than 512 MiB",
         lambda f: parsed(gzip_bomb(600 * 2**20), "bomb.fasta.gz")),
    Case("too-many-records", "limits", f"{MAX_RECORDS + 1:,} records in one input",
         rf"^refused as a whole: .*at most {MAX_RECORDS:,}",
         lambda f: parsed(_fasta(MAX_RECORDS + 1, 20).encode())),
    Case("too-many-residues", "limits",
         f"{MAX_TOTAL_RESIDUES // MAX_LENGTH + 1} sequences of {MAX_LENGTH:,} residues "
         f"(over {MAX_TOTAL_RESIDUES:,} in total)",
         rf"^refused as a whole: .*at most {MAX_TOTAL_RESIDUES:,} can be predicted in one job",
         lambda f: parsed(_fasta(MAX_TOTAL_RESIDUES // MAX_LENGTH + 1, MAX_LENGTH).encode())),
    # --- one bad record: an error for it, the others go on
    Case("too-long", "limits", f"one sequence of {MAX_LENGTH + 1:,} residues among good ones",
         rf"^exit 0; 3 rows .*p1=error: The sequence is too long: {MAX_LENGTH + 1:,} residues",
         lambda f: cli_predict(
             f, f">p0\n{PROTEIN}\n>p1\n{_fasta(1, MAX_LENGTH + 1)[4:]}>p2\n{PROTEIN}\n")),
    Case("dna", "records", "a DNA sequence between two proteins",
         r"^exit 0; 3 rows in input order: p0=predicted \| dna=error: .*DNA .*\| p2=predicted$",
         lambda f: cli_predict(f, f">p0\n{PROTEIN}\n>dna\n{'ACGT' * 15}\n>p2\n{PROTEIN}\n")),
    Case("prose", "records", "an English sentence pasted as a sequence",
         r"error: This does not look like a protein",
         lambda f: parsed(b">note\nJust a quick note Bob will bring the buffer tomorrow\n")),
    Case("internal-stop", "records", "a stop codon '*' inside the sequence",
         r"error: Found a stop codon '\*' at position 11",
         lambda f: parsed(f">p\n{PROTEIN[:10]}*{PROTEIN[10:]}\n".encode())),
    Case("symbols", "records", "HTML/script and shell characters as the sequence",
         r"error: The sequence contains characters that are not amino-acid letters",
         lambda f: parsed(b">x\n<script>alert(1)</script>$(rm -rf ~)\n")),
    Case("html-header", "records", "HTML and a formula in the header",
         r"^exit 0; 1 rows in input order: <b>x</b>=predicted$",
         lambda f: cli_predict(f, f"><b>x</b> =HYPERLINK(\"http://evil\")\n{PROTEIN}\n")),
    Case("too-short", "records", "a 2-residue sequence", r"error: The sequence is too short",
         lambda f: parsed(b">p\nMK\n")),
    Case("empty-record", "records", "a header with no sequence, then a protein",
         r"^2 record\(s\), 1 predictable; empty: error: No residues after the header",
         lambda f: parsed(f">empty\n>p\n{PROTEIN}\n".encode())),
    Case("duplicate-ids", "records", "the same ID three times",
         r"^exit 0; 3 rows in input order: p=predicted \| p_2=predicted \| p_3=predicted$",
         lambda f: cli_predict(f, f">p\n{PROTEIN}\n" * 3)),
    Case("control-chars", "records", "NUL and bell bytes inside a sequence",
         r"^refused as a whole: .*binary file \(it contains NUL bytes\)",
         lambda f: parsed(f">p\n{PROTEIN}\x00\x07\n".encode())),
    # --- uploads
    Case("upload-exe", "uploads", "a file named proteins.exe on the Batch page",
         r"^refused: 'proteins.exe' is not an accepted file type; upload one of: \.fasta",
         _case_upload_name("proteins.exe", settings.FASTA_UPLOAD_TYPES)),
    Case("upload-double-ext", "uploads", "proteins.fasta.pkl (allowed type, then another)",
         r"^refused: 'proteins.fasta.pkl' is not an accepted file type",
         _case_upload_name("proteins.fasta.pkl", settings.FASTA_UPLOAD_TYPES)),
    Case("upload-nul-name", "uploads", "a file name with a NUL byte (proteins.fasta\\0.exe)",
         r"^refused: ", _case_upload_name("proteins.fasta\0.exe", settings.FASTA_UPLOAD_TYPES)),
    Case("upload-gz", "uploads", "proteins.FASTA.GZ (upper-case, compressed)", r"^accepted$",
         _case_upload_name("proteins.FASTA.GZ", settings.FASTA_UPLOAD_TYPES)),
    Case("upload-structure", "uploads", "a FASTA file uploaded on the Structure page",
         r"^refused: 'p.fasta' is not an accepted file type; upload one of: \.pdb",
         _case_upload_name("p.fasta", settings.STRUCTURE_UPLOAD_TYPES)),
    # --- checkpoints and weights: never unpickle
    Case("pickle-as-safetensors", "loading", "a code-running pickle renamed fold_0.safetensors",
         r"^refused: refusing to load fold_0.safetensors: it is a pickle.*; payload ran: no$",
         _case_pickle_as_safetensors),
    Case("torch-as-safetensors", "loading",
         "a torch.save file with a code-running object, named fold_0.safetensors",
         r"^refused: refusing to load fold_0.safetensors: it is a pickle.*; payload ran: no$",
         _case_torch_file_as_safetensors),
    Case("pickle-pt", "loading", "the manifest lists a code-running fold_0.pt",
         r"^refused: refusing to load fold_0.pt: only .safetensors.*; payload ran: no$",
         _case_pickle_listed_as_pt),
    Case("weights-outside", "loading", "the manifest points at ../elsewhere/fold_0.safetensors",
         r"^refused: manifest.json lists the weight file .* must be a plain file name",
         _case_weights_outside_set),
    Case("manifest-not-json", "loading", "manifest.json is not JSON",
         r"^refused: .*manifest.json is not valid JSON", _case_manifest_not_json),
    Case("manifest-types", "loading", "manifest.json with wrong types and missing fields",
         r"^refused: manifest.json is incomplete or malformed", _case_manifest_wrong_types),
    Case("esm-pickle", "loading", "an ESM-2 weights file (.pt) with a code-running object",
         r"^refused: .*; payload ran: no$", _case_esm_pickle),
]


# --- issue 16 (round 2): streaming limits, manifests, the filesystem, CSV cells, the cache


def predict_bytes(folder: Path, data: bytes, *extra: str, checkpoint: Path | None = None) -> str:
    """`protloc predict` on a file holding ``data``: exit code and the last stderr line."""
    checkpoint = checkpoint or tiny_set(folder)
    fasta = folder / "in.fasta.gz"
    fasta.write_bytes(data)
    out, err = io.StringIO(), io.StringIO()
    code = main(["predict", "-f", str(fasta), "-o", str(folder / "out"), "-m", str(checkpoint),
                 *extra], stdout=out, stderr=err)
    lines = [line for line in err.getvalue().splitlines() if line.startswith("protloc")]
    return f"exit {code}" + (f"; stderr: {lines[-1]}" if lines else "")


def _case_huge_gzip_sequence(folder: Path) -> str:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    line = (PROTEIN[:60] + "\n").encode()
    header = packer.compress(b">huge\n")
    body = b"".join(packer.compress(line * 100_000) for _ in range(5))
    return predict_bytes(folder, header + body + packer.flush())


def _edited_set(folder: Path, change: Callable[[dict], None]) -> Path:
    directory = tiny_set(folder)
    path = directory / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))
    return directory


def _load_edited(change: Callable[[dict], None]) -> Callable[[Path], str]:
    return lambda folder: load_set(_edited_set(folder, change))


def _case_nan_weights(folder: Path) -> str:
    from safetensors.torch import load_file, save_file

    directory = tiny_set(folder)
    state = load_file(str(directory / "fold_0.safetensors"))
    state["head.0.bias"] = torch.full_like(state["head.0.bias"], float("nan"))
    save_file(state, str(directory / "fold_0.safetensors"))
    return load_set(directory)


def _case_boosting_other_streams(folder: Path) -> str:
    """Boosting trees (one split per class tree) that read a feature far beyond the pooled
    width of the set's streams, as trees trained on other streams would."""
    import numpy as np
    from safetensors.numpy import save_file

    n = 6  # one three-node tree per class: a split, then two leaves
    one = {"feature_idx": [10**6, 0, 0], "num_threshold": [0.0, 0.0, 0.0],
           "missing_go_to_left": [0, 0, 0], "left": [1, 0, 0], "right": [2, 0, 0],
           "is_leaf": [0, 1, 1], "value": [0.0, 0.1, -0.1]}
    trees = {k: np.array(v * n, dtype=np.float64 if k in ("num_threshold", "value") else np.int64)
             for k, v in one.items()}
    for k in ("left", "right"):
        trees[k] += np.repeat(np.arange(n) * 3, 3) * (trees["is_leaf"] == 0)
    trees["roots"], trees["baseline"] = np.arange(n, dtype=np.int64) * 3, np.zeros(n)
    directory = _edited_set(folder, lambda m: m.update(boosting={"weight": 0.5, "folds": {
        str(f["test_fold"]): "boost.safetensors" for f in m["folds"]}}))
    save_file(trees, str(directory / "boost.safetensors"))
    from protloc.predictor import EnsemblePredictor

    try:  # the whole predictor: fold networks, then the boosting trees
        EnsemblePredictor.from_dir(directory)
    except UserError as exc:
        return f"refused: {exc}"
    return "loaded"


def _case_nested_manifest(folder: Path) -> str:
    directory = tiny_set(folder)
    (directory / "manifest.json").write_text("[" * 100_000 + "]" * 100_000)
    return load_set(directory)


def _case_embedder_outside(folder: Path) -> str:
    spec = {"kind": "esm2", "id": "esm2_t6_8M_UR50D-L6", "model_name": "esm2_t6_8M_UR50D",
            "repr_layer": 6, "weights_path": "/etc/esm2_t6_8M_UR50D.pt"}
    directory = _edited_set(folder, lambda m: m.update(embedders=[spec]))
    return predict_bytes(folder, f">p\n{PROTEIN}\n".encode(), checkpoint=directory)


def _case_output_is_file(folder: Path) -> str:
    (folder / "taken").write_text("a file")
    fasta = folder / "in.fasta"
    fasta.write_text(f">p\n{PROTEIN}\n")
    err = io.StringIO()
    code = main(["predict", "-f", str(fasta), "-o", str(folder / "taken"), "-m",
                 str(tiny_set(folder))], stdout=io.StringIO(), stderr=err)
    return f"exit {code}; stderr: {err.getvalue().strip()}"


def _case_disk_full(folder: Path) -> str:
    import errno
    import os
    from unittest import mock

    real_write = os.write

    def full(fd, data):
        real_write(fd, bytes(data)[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    checkpoint = tiny_set(folder)
    with mock.patch("os.write", full):
        outcome = predict_bytes(folder, f">p\n{PROTEIN}\n".encode(), checkpoint=checkpoint)
    left = sorted(p.name for p in (folder / "out").iterdir())
    return f"{outcome}; files left: {left or 'none'}"


def _case_killed_rerun(folder: Path) -> str:
    import os
    from unittest import mock

    checkpoint = tiny_set(folder)
    predict_bytes(folder, f">old\n{PROTEIN}\n".encode(), "-p", checkpoint=checkpoint)
    real_replace, calls = os.replace, []

    def killed(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_replace(src, dst)

    with mock.patch("os.replace", killed):
        outcome = predict_bytes(folder, f">new\n{PROTEIN}\n".encode(), "--format", "json",
                                checkpoint=checkpoint)
    left = sorted(p.name for p in (folder / "out").iterdir())
    return f"{outcome}; files left: {left} (no run.json: the run is marked incomplete)"


def _case_csv_formula(folder: Path) -> str:
    from protloc.output import read_results_csv

    outcome = predict_bytes(folder, f">=HYPERLINK(\"http://evil\")\n{PROTEIN}\n".encode())
    cell = pd.read_csv(folder / "out" / "results.csv", dtype=str)["ID"][0]
    back = read_results_csv(folder / "out" / "results.csv")["ID"][0]
    return f"{outcome}; CSV cell: {cell}; read_results_csv gives: {back}"


def _case_damaged_cache(folder: Path) -> str:
    from protloc.embedders import EmbeddingCache

    checkpoint = tiny_set(folder)
    fasta = f">p\n{PROTEIN}\n".encode()
    predict_bytes(folder, fasta, "--cache", str(folder / "cache"), checkpoint=checkpoint)
    entry = EmbeddingCache(folder / "cache").path("features-v1", PROTEIN)
    data = bytearray(entry.read_bytes())
    data[-1] ^= 0x40
    entry.write_bytes(bytes(data))
    err = io.StringIO()
    code = main(["predict", "-f", str(folder / "in.fasta.gz"), "-o", str(folder / "out"), "-m",
                 str(checkpoint), "--cache", str(folder / "cache")],
                stdout=io.StringIO(), stderr=err)
    note = [line for line in err.getvalue().splitlines() if "cache" in line]
    return f"exit {code}; stderr: {note[0].split(' (first')[0] if note else 'nothing'}"


def _hidden_200000(m: dict) -> None:
    m["model"]["config"].update(hidden=200_000)


CASES += [
    Case("huge-gzip-sequence", "limits",
         "a 0.1 MB .gz holding one 30,000,000-residue sequence, nothing else",
         r"^exit 1; stderr: .*none of the 1 records could be predicted",
         _case_huge_gzip_sequence),
    Case("nothing-predictable", "limits", "only a DNA sequence and a 2-residue one",
         r"^exit 1; stderr: .*none of the 2 records could be predicted",
         lambda f: predict_bytes(f, b">dna\n" + b"ACGT" * 20 + b"\n>short\nMK\n")),
    Case("temperature-nan", "loading", "a fold temperature of NaN in manifest.json",
         r"^refused: .*folds\[0\]\.temperature is nan; it must be a finite number above 0",
         _load_edited(lambda m: m["folds"][0].update(temperature=float("nan")))),
    Case("temperature-zero", "loading", "a fold temperature of 0",
         r"^refused: .*folds\[0\]\.temperature is 0; it must be a finite number above 0",
         _load_edited(lambda m: m["folds"][0].update(temperature=0))),
    Case("weights-nan", "loading", "NaN in a fold's weights", r"^refused: .*are not finite",
         _case_nan_weights),
    Case("boosting-other-streams", "loading",
         "boosting trees that read a feature the set's streams do not give (trained on others)",
         r"^refused: boosting file boost.safetensors cannot be used: its trees read feature "
         r"1000000 but the checkpoint's streams give \d+ pooled features",
         _case_boosting_other_streams),
    Case("hidden-200000", "loading", "hidden: 200000 in the model settings (about 160 GB)",
         r"^refused: .*model.config.hidden is 200000; it must be an integer from 1 to 8,192$",
         _load_edited(_hidden_200000)),
    Case("billions-of-parameters", "loading",
         "model sizes each in range but 13.6 billion parameters together",
         r"^refused: .*describes a model of [\d,]+ parameters; at most [\d,]+ are accepted$",
         _load_edited(lambda m: m["model"]["config"].update(
             hidden=8192, lstm_hidden=8192, lstm_layers=8, head_hidden=8192))),
    Case("heads-indivisible", "loading", "pool_heads that do not divide the pooled size",
         r"^refused: .*must be divisible by pool_heads \(5\)$",
         _load_edited(lambda m: m["model"]["config"].update(pool_heads=5))),
    Case("nested-json", "loading", "manifest.json nested 100,000 levels deep",
         r"^refused: .*is nested too deeply", _case_nested_manifest),
    Case("embedder-outside", "loading",
         "the manifest's ESM-2 weights_path is /etc/esm2_t6_8M_UR50D.pt",
         r"^exit 1; stderr: .*outside the checkpoint folder .*--allow-external-weights",
         _case_embedder_outside),
    Case("output-is-file", "outputs", "`-o` names an existing file",
         r"^exit 1; stderr: protloc predict: error: the output folder .* is an existing file",
         _case_output_is_file),
    Case("disk-full", "outputs", "the disk fills up while results.csv is written",
         r"^exit 1; stderr: .*the disk is full; files left: none$", _case_disk_full),
    Case("killed-rerun", "outputs",
         "a re-run (JSON) killed after its first file, over a complete CSV run",
         r"^exit 130.*files left: \['results.json'\]", _case_killed_rerun),
    Case("csv-formula", "outputs", "an ID that is a spreadsheet formula",
         r"CSV cell: '=HYPERLINK.*read_results_csv gives: =HYPERLINK", _case_csv_formula),
    Case("cache-damaged", "cache", "one changed byte in a cached embedding",
         r"^exit 0; stderr: recomputed 1 damaged embedding cache entry$", _case_damaged_cache),
]


def observe(case: Case) -> str:
    """Run ``case`` in a fresh temporary folder; what happened, with that folder's path
    replaced by ``<tmp>`` so the outcome is the same on every machine."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        outcome = case.run(Path(tmp))
    return outcome.replace(str(Path(tmp).resolve()), "<tmp>").replace(tmp, "<tmp>")


#: Properties checked by generated or concurrent tests, with the test that checks each
#: (tests/test_reliability.py fails if a named test disappears).
PROPERTIES: list[tuple[str, str]] = [
    ("test_fuzz.py::test_any_bytes_give_valid_records_or_one_clear_refusal",
     "Arbitrary bytes (random, FASTA-like, gzip, Latin-1, UTF-16) as an upload: valid records "
     "in input order or one one-line refusal; never another exception"),
    ("test_fuzz.py::test_any_text_gives_valid_records_or_one_clear_refusal",
     "Arbitrary Unicode text pasted: the same"),
    ("test_fuzz.py::test_validate_sequence_never_raises_and_is_consistent",
     "Arbitrary text as one sequence: cleaned to predictable letters or a specific error"),
    ("test_fuzz.py::test_every_fasta_record_gets_exactly_one_result_in_order",
     "Generated FASTA of 1-12 records: exactly one result per record, in order, IDs kept"),
    ("test_fuzz.py::test_cli_answers_every_record_or_refuses_in_one_line",
     "`protloc predict` (CSV and JSON) on arbitrary bytes: one row per record, in order, "
     "error rows carry their message; or exit 1 with one stderr line"),
    ("test_determinism.py::test_two_fresh_processes_write_identical_files",
     "Run to run on CPU: two fresh processes write byte-identical CSV and JSON (with attention)"),
    ("test_determinism.py::test_batch_and_one_by_one_give_the_same_table",
     "Batch vs one by one, in any input order: identical result table; probabilities and "
     "attention equal to 1e-6 (not bit for bit: padded batches sum in another order)"),
    ("test_load.py::test_eight_sessions_predict_at_once_with_one_model_copy",
     "8 browser sessions on one server predicting at once: each shows its own correct "
     "result, no error, server memory grows by less than one model copy"),
    ("test_load.py::test_batch_upload_refuses_unlisted_types_and_big_files",
     "Browser upload of an .exe, or of a FASTA over the upload limit: refused before parsing"),
    ("test_fuzz_inputs.py::test_any_fasta_file_gives_records_or_one_line_in_bounded_memory",
     "FASTA files (plain, gzip, truncated gzip, gzip twice, binary) read from disk: records or "
     "one line, and under 24 MiB of Python memory each"),
    ("test_fuzz_inputs.py::test_any_manifest_loads_or_gives_one_line_in_bounded_memory",
     "manifest.json with any field replaced by any JSON value (NaN and infinity included): "
     "loads or one line; under 24 MiB of Python memory each, under 400 MiB resident growth"),
    ("test_fuzz_inputs.py::test_any_structure_file_is_read_or_gives_one_line",
     "Structure files (PDB/mmCIF text, gzip, truncated gzip, binary): read or one line"),
    ("test_input_limits.py::test_piece_boundaries_never_change_the_records",
     "Reading in pieces of 1 to 9 bytes (plain, gzip) or characters gives the same records "
     "as reading all at once"),
    ("test_input_limits.py::test_one_huge_gzip_sequence_is_a_record_error_read_in_bounded_memory",
     "A 40,000,000-residue sequence in a .gz between two proteins: a too-long error for it, "
     "the others predicted, under 48 MiB of Python memory"),
    ("test_input_limits.py::test_too_many_records_is_refused_as_soon_as_passed",
     "An endless FASTA stream: refused after reading at most 2 MiB past the record limit"),
]

#: Figures measured by ``python -m benchmarks.bench_limits`` (rendered when present).
LIMIT_FIGURES = Path(__file__).resolve().parent.parent / "benchmarks" / "results" / \
    "bench_limits.json"


def _cell(text: str) -> str:
    """Markdown table cell: pipes escaped, HTML shown as text."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def render(outcomes: dict[str, str]) -> str:
    """docs/reliability.md from the observed outcome of every case."""
    lines = [
        "# Reliability: faults and hostile input tried, and what happened",
        "",
        "Generated by `PROTLOC_REFRESH_DOCS=1 pytest tests/test_reliability.py` from",
        "`tests/reliability_cases.py`; do not",
        "edit by hand. Every row was run for real; its outcome is what protloc did (messages",
        "verbatim, temporary folders shown as `<tmp>`), and `tests/test_reliability.py` checks",
        "each outcome against the expected behaviour and this file against a fresh rendering.",
        "",
        "| # | area | fault or input tried | what happened | case |",
        "|---|---|---|---|---|",
    ]
    for number, case in enumerate(CASES, start=1):
        lines.append(f"| {number} | {case.area} | {_cell(case.fault)} | "
                     f"{_cell(outcomes[case.id])} | `{case.id}` |")
    lines += [
        "",
        "## Properties checked on generated and concurrent input",
        "",
        "| property | test |",
        "|---|---|",
    ]
    lines += [f"| {_cell(text)} | `tests/{node}` |" for node, text in PROPERTIES]
    lines += _figures()
    return "\n".join(lines) + "\n"


def _figures() -> list[str]:
    """What refusing costs: time and peak memory per hostile input, in a fresh process."""
    if not LIMIT_FIGURES.exists():
        return []
    doc = json.loads(LIMIT_FIGURES.read_text(encoding="utf-8"))
    machine = doc["machine"]
    lines = [
        "",
        "## What refusing costs",
        "",
        "`protloc predict` on each input in a fresh process (`checkpoints/default`, or a small "
        "random set for the manifest rows), measured by `python -m benchmarks.bench_limits` "
        f"on {machine.get('cpu', '?')}, {machine.get('cpu_cores', '?')} cores, "
        f"{machine.get('date_utc', '?')} UTC. Seconds run from calling `protloc.cli.main` "
        "to its return (module imports included). Peak memory is the process's resident peak, "
        "about 300 MiB of which is Python, PyTorch and protloc loaded before any input is "
        "read. Issue 16 measured 87-103 s and 4.9-5.9 GB for the 510 M-residue .gz before "
        "streaming.",
        "",
        "| input | FASTA file | exit | seconds | peak memory | what the user is told |",
        "|---|---|---|---|---|---|",
    ]
    for row in doc["scenarios"].values():
        size = f"{row['input_bytes'] / 2**20:.1f} MiB" if row["input_bytes"] > 2**16 else \
            f"{row['input_bytes']:,} B"
        lines.append(f"| {_cell(row['tried'])} | {size} | {row['exit']} | {row['seconds']} | "
                     f"{row['peak_rss_mib']} MiB | {_cell(row['message'])} |")
    return lines
