import torch

from loopwatch.tasks.tabular.module import TabularClassifier
from loopwatch.tasks.tabular.net import NetConfig, TabularNet, embedding_size


def test_embedding_size_rule_of_thumb():
    assert embedding_size(2) == 2  # round(1.6 * 2**0.56)
    assert embedding_size(10_000) == 278
    assert embedding_size(1_000_000) == 600  # capped


def test_net_output_shape_and_widths():
    net = TabularNet(NetConfig(cardinalities=[5, 3], n_continuous=4, layers=[16, 8]))
    cats = torch.tensor([[1, 2], [0, 0], [4, 1]])
    conts = torch.randn(3, 4)
    net.eval()
    out = net(cats, conts)
    assert out.shape == (3, 2)
    first = net.mlp[0]
    assert first.in_features == embedding_size(5) + embedding_size(3) + 4


def test_net_without_categoricals_or_continuous():
    only_cont = TabularNet(NetConfig(cardinalities=[], n_continuous=3, layers=[4])).eval()
    assert only_cont(torch.zeros(2, 0, dtype=torch.long), torch.randn(2, 3)).shape == (2, 2)
    only_cat = TabularNet(NetConfig(cardinalities=[4], n_continuous=0, layers=[4])).eval()
    assert only_cat(torch.tensor([[1], [2]]), torch.zeros(2, 0)).shape == (2, 2)


def test_predict_proba_rows_sum_to_one_and_are_deterministic_in_eval():
    module = TabularClassifier(NetConfig(cardinalities=[3], n_continuous=2).to_dict())
    cats, conts = torch.tensor([[1], [2], [0]]), torch.randn(3, 2)
    p1 = module.predict_proba(cats, conts)
    p2 = module.predict_proba(cats, conts)
    torch.testing.assert_close(p1.sum(dim=1), torch.ones(3))
    assert torch.equal(p1, p2)  # dropout is off in eval mode
