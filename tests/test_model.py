import pytest
import torch

from protloc.model import FusionConfig, FusionModel, count_parameters, pad_batch

SMALL = dict(hidden=32, cross_heads=4, lstm_hidden=16, pool_heads=4, head_hidden=16, dropout=0.1)


def test_paper_configuration_has_the_reference_parameter_count():
    model = FusionModel(FusionConfig(input_dims=[1280, 1024]))
    assert count_parameters(model) == 8_412_936


def test_paper_component_sizes():
    model = FusionModel(FusionConfig())
    assert count_parameters(model.fusion) == 4_071_426
    assert count_parameters(model.encoder) == 3_154_944
    assert count_parameters(model.pool) == 789_504
    assert count_parameters(model.head) == 397_062


@pytest.mark.parametrize("dims", [[20], [20, 12]])
def test_forward_shapes_and_attention(dims):
    torch.manual_seed(0)
    model = FusionModel(FusionConfig(input_dims=dims, **SMALL)).eval()
    lengths = torch.tensor([30, 11, 5])
    streams = [torch.randn(3, 30, d) for d in dims]
    logits, attention = model(streams, lengths)
    assert logits.shape == (3, 6)
    assert attention.shape == (3, 4, 30)
    torch.testing.assert_close(attention.sum(-1), torch.ones(3, 4))
    assert attention[1, :, 11:].abs().sum() == 0  # no weight on padding
    assert attention[2, :, 5:].abs().sum() == 0


@pytest.mark.parametrize("dims", [[20], [20, 12]])
def test_padding_does_not_change_the_prediction(dims):
    torch.manual_seed(1)
    model = FusionModel(FusionConfig(input_dims=dims, **SMALL)).eval()
    short = [torch.randn(9, d) for d in dims]
    long = [torch.randn(25, d) for d in dims]
    alone = model([s[None] for s in short], torch.tensor([9]))[0]
    batched = []
    for s, l in zip(short, long):
        batch, lengths = pad_batch([l, s])
        batched.append(batch)
    together = model(batched, lengths)[0]
    torch.testing.assert_close(together[1:], alone, atol=1e-5, rtol=1e-4)


def test_three_streams_rejected_and_stream_count_checked():
    with pytest.raises(ValueError, match="1 or 2 input streams"):
        FusionModel(FusionConfig(input_dims=[4, 4, 4], **SMALL))
    model = FusionModel(FusionConfig(input_dims=[4, 4], **SMALL))
    with pytest.raises(ValueError, match="expects 2 streams"):
        model([torch.randn(1, 3, 4)], torch.tensor([3]))


def test_gradients_reach_every_parameter():
    torch.manual_seed(2)
    model = FusionModel(FusionConfig(input_dims=[8, 6], **SMALL))
    streams = [torch.randn(2, 7, 8), torch.randn(2, 7, 6)]
    logits, _ = model(streams, torch.tensor([7, 4]))
    logits.sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum()]
    assert missing == []


def test_bilstm_encoder_equals_a_packed_bidirectional_lstm():
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    from protloc.model import BiLSTMEncoder

    torch.manual_seed(0)
    enc = BiLSTMEncoder(hidden=6, lstm_hidden=5, layers=2, dropout=0.3).eval()
    ref = torch.nn.LSTM(6, 5, num_layers=2, batch_first=True, bidirectional=True)
    with torch.no_grad():
        for layer in range(2):
            for module, suffix in ((enc.forward_layers[layer], ""), (enc.backward_layers[layer], "_reverse")):
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(ref, f"{name}_l{layer}{suffix}").copy_(getattr(module, f"{name}_l0"))
    lengths = torch.tensor([7, 3, 5, 1])
    x = torch.randn(4, 7, 6)
    x[1, 3:] = 100.0  # garbage in the padding must not reach real residues
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    want, _ = pad_packed_sequence(ref(packed)[0], batch_first=True, total_length=7)
    got = enc(x, lengths)
    assert torch.allclose(got, enc.norm(want), atol=1e-5)
    assert sum(p.numel() for p in enc.parameters()) == sum(p.numel() for p in ref.parameters()) + 20


def test_group_input_changes_the_logits_and_defaults_to_unknown():
    torch.manual_seed(0)
    model = FusionModel(FusionConfig(input_dims=[7], hidden=16, lstm_hidden=8, lstm_layers=1,
                                     pool_heads=2, head_hidden=8, n_groups=4, mean_pool=True))
    model.eval()
    x, lengths = pad_batch([torch.randn(12, 7), torch.randn(9, 7)])
    by_group = [model([x], lengths, torch.full((2,), g))[0] for g in range(4)]
    for g in range(1, 4):
        assert not torch.allclose(by_group[0], by_group[g])
    assert torch.allclose(model([x], lengths)[0], by_group[0])  # no groups = unknown (index 0)


def test_model_without_group_input_ignores_groups():
    torch.manual_seed(0)
    model = FusionModel(FusionConfig(input_dims=[7], hidden=16, lstm_hidden=8, lstm_layers=1,
                                     pool_heads=2, head_hidden=8))
    model.eval()
    x, lengths = pad_batch([torch.randn(12, 7)])
    assert torch.equal(model([x], lengths)[0], model([x], lengths, torch.tensor([2]))[0])


def test_concat_fusion_takes_three_streams_and_each_one_matters():
    torch.manual_seed(0)
    cfg = FusionConfig(input_dims=[5, 3, 2], hidden=16, lstm_hidden=8, lstm_layers=1,
                       pool_heads=2, head_hidden=8, fusion="concat")
    model = FusionModel(cfg).eval()
    streams = [pad_batch([torch.randn(10, d)])[0] for d in cfg.input_dims]
    lengths = torch.tensor([10])
    base = model(streams, lengths)[0]
    for k in range(3):
        changed = list(streams)
        changed[k] = changed[k] + 1.0
        assert not torch.allclose(model(changed, lengths)[0], base)
    with pytest.raises(ValueError, match="concat"):
        FusionModel(FusionConfig(input_dims=[5, 3, 2], hidden=16, lstm_hidden=8, pool_heads=2))


CONV = dict(SMALL, encoder="conv", conv_kernel=5, conv_layers=2, n_groups=4, mean_pool=True)


def test_conv_encoder_ignores_padding_and_sees_only_its_window():
    from protloc.model import ConvEncoder

    torch.manual_seed(0)
    enc = ConvEncoder(hidden=6, out_dim=8, kernel=5, layers=2, dropout=0.3).eval()
    x = torch.randn(2, 30, 6)
    lengths = torch.tensor([30, 12])
    x[1, 12:] = 100.0  # garbage in the padding must not reach real residues
    got = enc(x, lengths)
    alone = enc(x[1:, :12], torch.tensor([12]))
    assert torch.allclose(got[1, :12], alone[0], atol=1e-5)
    assert torch.equal(got[1, 12:], torch.zeros(18, 8))
    far = x.clone()
    far[0, 20:] += 1.0  # 2 layers x (5 // 2) = 4 residues of reach: 0..15 cannot see residue 20
    moved = (enc(far, lengths)[0] - got[0]).abs().sum(-1)
    assert torch.equal(moved[:16], torch.zeros(16)) and bool((moved[16:] > 0).all())


def test_conv_model_trains_every_parameter_and_reads_the_group():
    torch.manual_seed(0)
    model = FusionModel(FusionConfig(input_dims=[7, 3], fusion="concat", **CONV))
    x, lengths = pad_batch([torch.randn(12, 7), torch.randn(9, 7)])
    e, _ = pad_batch([torch.randn(12, 3), torch.randn(9, 3)])
    logits, attention = model([x, e], lengths, torch.tensor([1, 2]))
    assert logits.shape == (2, 6) and attention.shape == (2, 4, 12)
    logits.sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum()]
    assert missing == []
    model.eval()
    by_group = [model([x, e], lengths, torch.full((2,), g))[0] for g in range(4)]
    assert not torch.allclose(by_group[0], by_group[2])


def test_unknown_encoder_and_even_kernel_are_refused():
    with pytest.raises(ValueError, match="encoder must be 'lstm' or 'conv', not 'gru'"):
        FusionModel(FusionConfig(input_dims=[7], encoder="gru", **SMALL))
    with pytest.raises(ValueError, match="conv_kernel must be odd"):
        FusionModel(FusionConfig(input_dims=[7], **dict(CONV, conv_kernel=4)))
