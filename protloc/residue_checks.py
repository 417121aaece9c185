"""Checking one protein sequence: cleaning, ambiguous residues, errors and warnings (the rules
of :func:`validate_sequence`; split from :mod:`protloc.sequences`, which reads the input, applies
these to every record and re-exports the public names). The policies are written out in
:mod:`protloc.sequences`' docstring.
"""

from __future__ import annotations

from collections import Counter
from string import ascii_lowercase, ascii_uppercase, digits

#: Longest sequence (residues) that is predicted; longer ones become error records.
MAX_LENGTH: int = 10_000
#: Shortest sequence (residues) that is predicted.
MIN_LENGTH: int = 5
#: Sequences shorter than this get a warning.
SHORT_WARNING: int = 30
#: Sequences longer than this get a warning (longer than 97.5% of the training proteins).
LONG_WARNING: int = 1_000

#: Non-standard letters replaced by X, with what they stand for.
AMBIGUOUS: dict[str, str] = {
    "B": "Asx, D or N",
    "Z": "Glx, E or Q",
    "J": "Xle, L or I",
    "U": "selenocysteine",
    "O": "pyrrolysine",
}

_X_WARNING_FRACTION = 0.10
_PROSE_FRACTION = 0.10
_PROSE_LETTERS = frozenset("BJOUXZ")
_NUCLEOTIDES = frozenset("ACGTUN")
_NUCLEOTIDE_FRACTION = 0.90
_NUCLEOTIDE_MIN_LENGTH = 20
_MAX_BAD_CHARS_SHOWN = 5

_LETTERS = frozenset(ascii_uppercase)
_TO_UPPER = str.maketrans(ascii_lowercase, ascii_uppercase)  # ASCII only: "ß".upper() is "SS"
_DROP_DIGITS = str.maketrans("", "", digits)
_DROP_GAPS = str.maketrans("", "", "-.")
_TO_X = str.maketrans({letter: "X" for letter in AMBIGUOUS})


def validate_sequence(seq: str) -> tuple[str, str, list[str]]:
    """Clean and check one sequence: returns ``(cleaned, status, messages)``.

    ``cleaned`` is "" when status is "error"; messages are user-facing sentences.
    """
    if not seq.strip():
        return "", "error", ["The sequence is empty."]
    warnings: list[str] = []
    residues = seq.translate(_TO_UPPER)
    residues = _remove_whitespace(residues, warnings)
    residues = _remove_digits(residues, warnings)
    residues = _remove_gaps(residues, warnings)
    residues = _remove_trailing_stop(residues, warnings)
    errors = _find_errors(residues)
    if errors:
        return "", "error", errors
    residues = _replace_ambiguous(residues, warnings)
    warnings += _quality_warnings(residues)
    return residues, ("warning" if warnings else "ok"), warnings


# ----------------------------------------------------------------------------- cleaning


def _remove_whitespace(residues: str, warnings: list[str]) -> str:
    kept = "".join(residues.split())
    line_breaks = residues.count("\n") + residues.count("\r")
    removed = len(residues) - len(kept) - line_breaks
    if removed:
        warnings.append(
            f"Removed {_plural(removed, 'whitespace character')} "
            "(spaces or tabs) from inside the sequence."
        )
    return kept


def _remove_digits(residues: str, warnings: list[str]) -> str:
    kept = residues.translate(_DROP_DIGITS)
    removed = len(residues) - len(kept)
    if removed:
        warnings.append(
            f"Removed {_plural(removed, 'digit')} (such as the position numbers "
            "of GenBank-style lines)."
        )
    return kept


def _remove_gaps(residues: str, warnings: list[str]) -> str:
    kept = residues.translate(_DROP_GAPS)
    removed = len(residues) - len(kept)
    if removed:
        warnings.append(
            f"Removed {_plural(removed, 'gap character')} ('-' or '.'), as found in alignments."
        )
    return kept


def _remove_trailing_stop(residues: str, warnings: list[str]) -> str:
    kept = residues.rstrip("*")
    removed = len(residues) - len(kept)
    if removed == 1:
        warnings.append("Removed the trailing stop codon '*'.")
    elif removed:
        warnings.append(f"Removed {removed} trailing stop codons '*'.")
    return kept


def _replace_ambiguous(residues: str, warnings: list[str]) -> str:
    counts = Counter(char for char in residues if char in AMBIGUOUS)
    if not counts:
        return residues
    total = sum(counts.values())
    details = ", ".join(
        f"{count} {letter} ({AMBIGUOUS[letter]})" for letter, count in sorted(counts.items())
    )
    verb = "was" if total == 1 else "were"
    warnings.append(
        f"{_plural(total, 'non-standard residue')} {verb} replaced by X (unknown residue): "
        f"{details}. The models know only the 20 standard amino acids."
    )
    return residues.translate(_TO_X)


# ------------------------------------------------------------------------------- checks


def _find_errors(residues: str) -> list[str]:
    errors = _character_errors(residues)
    if errors:
        return errors
    for check in (_empty_error, _nucleotide_error, _prose_error, _length_error):
        message = check(residues)
        if message:
            return [message]
    return []


def _character_errors(residues: str) -> list[str]:
    errors: list[str] = []
    stops = residues.count("*")
    if stops:
        extra = f" ({stops} '*' in total)" if stops > 1 else ""
        errors.append(
            f"Found a stop codon '*' at position {residues.index('*') + 1:,} inside the "
            f"sequence{extra}; only a trailing '*' is allowed. Check the translation."
        )
    first_seen: dict[str, int] = {}
    for position, char in enumerate(residues, start=1):
        if char not in _LETTERS and char != "*":
            first_seen.setdefault(char, position)
    if first_seen:
        errors.append(_bad_characters_message(first_seen))
    return errors


def _bad_characters_message(first_seen: dict[str, int]) -> str:
    shown = list(first_seen.items())[:_MAX_BAD_CHARS_SHOWN]
    listed = ", ".join(f"{char!r} (first at position {pos:,})" for char, pos in shown)
    more = len(first_seen) - len(shown)
    if more:
        listed += f" and {_plural(more, 'other character')}"
    return (
        f"The sequence contains characters that are not amino-acid letters: {listed}. "
        "It does not look like a protein sequence."
    )


def _empty_error(residues: str) -> str | None:
    if residues:
        return None
    return "No amino-acid letters are left after removing digits, whitespace, gaps and '*'."


def _nucleotide_error(residues: str) -> str | None:
    if len(residues) < _NUCLEOTIDE_MIN_LENGTH:
        return None
    nucleotides = sum(1 for char in residues if char in _NUCLEOTIDES)
    if nucleotides < _NUCLEOTIDE_FRACTION * len(residues):
        return None
    kind = "RNA" if "U" in residues and "T" not in residues else "DNA"
    return (
        f"This looks like a {kind} nucleotide sequence ({nucleotides / len(residues):.0%} of "
        "its letters are A, C, G, T, U or N), not a protein. Translate it to protein first, "
        "e.g. with a six-frame translation or a gene caller such as Prodigal."
    )


def _prose_error(residues: str) -> str | None:
    rare = sum(1 for char in residues if char in _PROSE_LETTERS)
    unknown = residues.count("X")
    if rare <= _PROSE_FRACTION * len(residues) or rare - unknown <= unknown:
        return None
    return (
        f"This does not look like a protein sequence: {rare / len(residues):.0%} of its "
        "letters are B, J, O, U, X or Z, which are rare in proteins. Is it ordinary text?"
    )


def _length_error(residues: str, length: int | None = None) -> str | None:
    length = len(residues) if length is None else length
    if length < MIN_LENGTH:
        return (
            f"The sequence is too short: {_plural(length, 'residue')}; "
            f"at least {MIN_LENGTH:,} are needed."
        )
    if length > MAX_LENGTH:
        return (
            f"The sequence is too long: {length:,} residues; the limit is {MAX_LENGTH:,} "
            "per sequence. Split it into domains or fragments to predict it."
        )
    return None


def _quality_warnings(residues: str) -> list[str]:
    warnings: list[str] = []
    length = len(residues)
    unknown = residues.count("X")
    if unknown > _X_WARNING_FRACTION * length:
        warnings.append(
            f"{unknown / length:.0%} of the residues ({unknown:,} of {length:,}) are X "
            "(unknown); the prediction is unreliable."
        )
    if length < SHORT_WARNING:
        warnings.append(
            f"The sequence is very short ({_plural(length, 'residue')}): proteins this short "
            "rarely carry localization signals, so the prediction may be unreliable."
        )
    if length > LONG_WARNING:
        warnings.append(
            f"The sequence is long ({length:,} residues): fewer than 3% of the training "
            f"proteins are longer than {LONG_WARNING:,} residues (and the ESM-2 backbone embeds "
            "long ones in overlapping windows), so the prediction may be less reliable."
        )
    return warnings


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"
