"""Evidence stream: TMHMM 2.0 (the real model file from pytmhmm-binaries), signal-peptide type,
sortase anchors, and the evidence-v1 / evidence-v2 embedders built from them."""

import numpy as np
import pytest

pytest.importorskip("pyTMHMM", reason="pytmhmm-binaries is not installed")

from pages.examples import EXAMPLES  # noqa: E402
from protloc.embedders import make_embedder  # noqa: E402
from protloc.evidence import EVIDENCE_COLUMNS, evidence, evidence_matrix, tmhmm  # noqa: E402

LPP = "MKATKLVLGAVILGSTLLAGCSSNAKIDQLSSDVQTLNAKVDQLSNDVNAMRSDVQAAKDDAARANQRLDNMATKYRK"
# Staphylococcus aureus protein A C-terminus pattern: LPETG, hydrophobic stretch, charged tail
SORTASE_TAIL = "A" * 80 + "KEDNKKPGKEDGNKPGKEDNKKPGKEDGNKPGKEDNKKPGKEDGNKPG" + \
    "LPETGEENPFIGTTVFGGLSLALGAALLAGRRREL"
# TEM-1 beta-lactamase (P62593), N-terminus: its signal peptidase site V-F-A|H (mature protein
# from H24) is a von Heijne site but not A-X-A.
TEM1 = "MSIQHFRVALIPFFAAFCLPVFAHPETLVKVKDAEDQLGARVGYIELDLNSGKILESFRPEERFPMMSTFKVLLCGAVL"


def _example(short):
    return next(e for e in EXAMPLES.values() if e.short == short)


def test_tmhmm_finds_the_helices_of_lacy():
    # TMHMM 2.0's Viterbi path: 11 helices on LacY, whose crystal structure has 12 (two of them
    # are merged by the path and show in the posteriors); TMHMM's own 1-best decoding of the
    # same model file also gives 11 (scripts/tmhmm_one_best.py). No helix in the soluble GroEL.
    lacy = tmhmm(_example("LacY").sequence)
    assert len(lacy.helices) == 11
    assert lacy.posteriors.shape == (len(_example("LacY").sequence), 3)
    np.testing.assert_allclose(lacy.posteriors.sum(axis=1), 1.0, atol=1e-5)
    assert tmhmm(_example("GroEL").sequence).helices == []


def _brute_force(initial, trans, emit, x, end):
    """Posterior of each state at each position, and the most probable path, over every state
    path that ends in a state ``end`` allows."""
    import itertools

    n, states = len(x), len(initial)
    post, best, best_p = np.zeros((n, states)), None, -1.0
    for path in itertools.product(range(states), repeat=n):
        p = initial[path[0]] * emit[path[0], x[0]] * end[path[-1]]
        for i in range(1, n):
            p *= trans[path[i - 1], path[i]] * emit[path[i], x[i]]
        post[np.arange(n), path] += p
        if p > best_p:
            best, best_p = list(path), p
    return post / post[0].sum(), best


def test_exact_decoding_matches_every_path_enumerated_and_pytmhmms_does_not():
    from pyTMHMM.hmm import backward, forward, viterbi

    from protloc.evidence import state_posteriors, viterbi_path

    rng = np.random.default_rng(0)
    initial = rng.dirichlet(np.ones(3))
    trans, emit = rng.dirichlet(np.ones(3), size=3), rng.dirichlet(np.ones(4), size=3)
    x, end = [0, 2, 1, 3, 3, 0], np.array([1.0, 0.0, 1.0])  # state 1 may not end a sequence
    for rule in (np.ones(3), end):
        exact, best = _brute_force(initial, trans, emit, x, rule)
        np.testing.assert_allclose(state_posteriors(initial, trans, emit, x, rule), exact,
                                   atol=1e-12)
        assert viterbi_path(initial, trans, emit, x, rule) == best
    # pyTMHMM 1.3.6's backward pass uses the current residue's emission, not the next one's:
    # if this assert starts to fail, pyTMHMM was fixed and protloc could use it again
    exact, best = _brute_force(initial, trans, emit, x, np.ones(3))
    seq, model = "ACGTTA", (initial, trans, emit, dict(zip("ACGT", range(4))), {}, {})
    table, constants = forward(seq, *model)
    theirs = table * backward(seq, constants, *model)
    theirs /= theirs.sum(axis=1, keepdims=True)
    assert np.abs(theirs - exact).max() > 0.01


def test_exact_tmhmm_on_the_examples():
    import pyTMHMM

    from protloc.evidence import TopologySummary, exact_tmhmm

    seq = _example("LacY").sequence
    path, _ = pyTMHMM.predict(seq, compute_posterior=True)
    assert path == tmhmm(seq).path  # protloc.tmhmm is the package's own answer: 11 helices
    lacy_topology = exact_tmhmm(seq)
    assert lacy_topology.path == path  # the exact decoding agrees on LacY: 11 helices
    posteriors = lacy_topology.posteriors
    np.testing.assert_allclose(posteriors.sum(axis=1), 1.0, atol=1e-9)  # exact, not rescaled
    lacy = TopologySummary.of(lacy_topology)
    # 11 helices on the path (242 residues), about as many expected; where LacY's structure has
    # helices IX and X (residues 290-340) the path has one and the posterior is undecided
    assert lacy.helices == 11 and lacy.expected_tm_residues == pytest.approx(240.65, abs=0.01)
    assert 0.4 < posteriors[289:340, 1].mean() < 0.7
    assert lacy.prob_n_in > 0.9  # LacY's N-terminus is cytoplasmic
    male = TopologySummary.of(exact_tmhmm(_example("MalE").sequence))
    assert male.expected_first_60 == pytest.approx(8.84, abs=0.01)  # pyTMHMM's: 10.13
    groel = exact_tmhmm(_example("GroEL").sequence)
    # no sequence ends inside a helix (pyTMHMM: 0.30 at GroEL's GGM-repeat C-terminus)
    assert groel.posteriors[-10:, 1].max() < 0.01
    assert TopologySummary.of(groel).expected_tm_residues < 0.5
    # X reads as unknown, not as alanine (a run of 22 X: pyTMHMM's reading makes it a helix)
    seq = _example("GroEL").sequence
    padded = exact_tmhmm(seq[:200] + "X" * 22 + seq[200:])
    assert padded.posteriors[200:222, 1].max() < 0.05 and "M" not in padded.path
    m6 = exact_tmhmm(_example("M6 protein").sequence)  # Sec signal peptide read as a helix
    assert TopologySummary.of(m6).possible_signal_peptide
    # pyTMHMM picks its last state from the second-to-last residue: its C-terminal helix of M6
    # ends one residue late
    assert m6.helices[-1] == (454, 477) and tmhmm(_example("M6 protein").sequence).helices[-1] \
        == (455, 478)


def test_tmhmm_summary_in_words():
    from protloc.evidence import TopologySummary
    from protloc.lanes import evidence_view, topology_words

    lacy = evidence_view(_example("LacY").sequence)
    assert lacy.words.startswith("TMHMM 2.0: 11 membrane helices on its most likely path")
    assert "N-terminus is inside (cytoplasmic side): 1.00" in lacy.words
    assert "signal peptide" not in lacy.words  # TMHMM's warning is left out on multi-pass
    assert lacy.membrane.shape == (len(_example("LacY").sequence),)
    groel = evidence_view(_example("GroEL").sequence).words
    assert "no membrane helix" in groel and "N-terminus" not in groel
    m6 = evidence_view(_example("M6 protein").sequence).words
    assert "2 membrane helices (1 of them is the signal peptide's h-region" in m6
    one = topology_words(TopologySummary(1, 20.0, 12.0, 0.5))
    assert "1 membrane helix on" in one and "inside (cytoplasmic side): 0.50" in one
    assert "possibly an N-terminal signal peptide rather than a membrane helix" in one
    sp = topology_words(TopologySummary(1, 20.0, 12.0, 0.5), in_signal_peptide=1)
    assert "1 membrane helix (it is the signal peptide's h-region" in sp
    assert "possibly" not in sp  # no warning for a helix already drawn as the signal peptide


def test_signal_peptide_types():
    ompa = evidence(_example("OmpA").sequence)
    assert ompa.signal_peptide is not None and ompa.signal_peptide.kind == "Sec"
    assert ompa.signal_peptide.cleavage == 21  # mature OmpA starts at residue 22 (APKDN...)
    lpp = evidence(LPP)
    assert lpp.signal_peptide is not None and lpp.signal_peptide.kind == "lipoprotein"
    assert LPP[lpp.signal_peptide.cleavage] == "C"  # cut before the lipidated Cys
    assert evidence(_example("GroEL").sequence).signal_peptide is None


def test_membrane_protein_is_not_called_a_signal_peptide():
    lacy = evidence(_example("LacY").sequence)
    assert lacy.signal_peptide is None
    assert len(lacy.membrane_helices) == 11


def test_sortase_anchor_only_near_the_c_terminus():
    assert evidence(SORTASE_TAIL).anchors
    moved = SORTASE_TAIL[-40:] + SORTASE_TAIL[:-40]  # same motif, far from the C-terminus
    assert not evidence(moved).anchors


def test_evidence_embedder_columns():
    embedder = make_embedder("evidence-v1")
    assert embedder.dim == len(EVIDENCE_COLUMNS)
    (matrix,) = embedder.embed([LPP])
    assert matrix.shape == (len(LPP), embedder.dim) and matrix.dtype == np.float32
    lipo = EVIDENCE_COLUMNS.index("sp_lipo")
    assert matrix[:20, lipo].all() and not matrix[20:, lipo].any()
    np.testing.assert_array_equal(matrix, evidence_matrix(LPP))
    assert make_embedder(embedder.spec()).id == "evidence-v1"


def test_unknown_letters_do_not_break_tmhmm():
    top = tmhmm("MKKXXBZLLLLLLLLLLLLLLLLLLLLAAAXKK")
    assert len(top.path) == 33


def test_von_heijne_site_finds_what_axa_misses_and_v1_keeps_axa():
    sp = evidence(TEM1).signal_peptide  # the default rule: von Heijne's
    assert sp is not None and sp.kind == "Sec" and sp.cleavage == 23
    assert evidence(TEM1, cleavage="axa").signal_peptide is None
    sec = EVIDENCE_COLUMNS.index("sp_sec")
    (v1,) = make_embedder("evidence-v1").embed([TEM1])
    (v2,) = make_embedder("evidence-v2").embed([TEM1])
    assert not v1[:, sec].any() and v2[:23, sec].all() and not v2[23:, sec].any()
    np.testing.assert_array_equal(v1, evidence_matrix(TEM1, cleavage="axa"))
    assert make_embedder(make_embedder("evidence-v2").spec()).id == "evidence-v2"


def test_von_heijne_rule_prefers_alanine_sites_and_refuses_proline():
    from protloc.regions import _cleavage_site

    ompa = _example("OmpA").sequence  # ...A-T-V-A(19)-Q-A(21)|A-P-K: both sites allowed
    assert _cleavage_site(ompa, 15) == 21  # A-X-A (3 + 3) beats T-X-A (1 + 3)
    assert _cleavage_site(ompa, 15, "axa") == 21
    core = "MKK" + "LLAVLLALLAVLL"
    assert _cleavage_site(core + "QQSGSGTT" * 3, len(core)) == len(core) + 5  # S-G-S|G
    assert _cleavage_site(core + "QQSPSGTT" * 3, len(core)) is None  # proline at -2
    with pytest.raises(ValueError, match="cleavage rule must be one of"):
        _cleavage_site(ompa, 15, "signalp")


def test_unknown_evidence_version_is_refused():
    from protloc.errors import UserError

    with pytest.raises(UserError, match="no evidence stream 'evidence-v9'"):
        make_embedder("evidence-v9")


def test_posterior_comparison_script(tmp_path, capsys):
    import synthetic
    from scripts.tmhmm_posteriors import main

    data = synthetic.write_dataset(tmp_path / "data", per_class=2, seed=0)
    assert main([str(data), "--n", "6"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("6 proteins: mean per-residue largest difference 0.")
    lines = out.splitlines()
    corr = [float(line.rsplit(" ", 1)[1]) for line in lines[1:4]]
    assert len(corr) == 3 and all(0.9 < r <= 1.0 for r in corr)
    assert lines[4].startswith("Viterbi paths that differ: ")
