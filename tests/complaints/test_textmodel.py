"""Segmentation, the classifier's quality and its storage."""

import numpy as np
import pytest

from keycare.complaints import services, taxonomy, textmodel
from keycare.errors import UserError
from keycare.synth.complaints import sample


def test_tokens_are_jieba_words_and_char_bigrams():
    words = textmodel.tokens("宽带断网3天了")
    assert "宽带" in words and "断网" in words  # jieba words
    assert "带断" in words  # a bigram no dictionary has
    assert "0" in words and "3" not in "".join(words)  # numbers folded


def test_synthetic_holdout_macro_f1_meets_the_target(home):
    model = services.current_model()
    holdout = sample(1500, seed=99)
    figures = textmodel.evaluate(model, holdout["text"], holdout["cause"], holdout["need"])
    assert figures["cause_macro_f1"] >= 0.9
    assert figures["need_macro_f1"] >= 0.9


def test_handwritten_texts_are_mostly_understood(home):
    hand = services.handwritten_set()
    assert len(hand["text"]) >= 200
    figures = textmodel.evaluate(
        services.current_model(), hand["text"], hand["cause"], hand["need"]
    )
    # Written independently of the generator: lower than the synthetic figure, far above chance
    # (12 causes: 0.08; 8 needs: 0.125).
    assert figures["cause_macro_f1"] > 0.5
    assert figures["need_macro_f1"] > 0.4


def test_predictions_carry_a_confidence(home):
    rows = services.current_model().predict(
        ["手机上莫名其妙开通了咪咕视频，每个月扣钱，赶紧退订", ""]
    )
    assert rows[0]["cause"] == "unordered_vas"
    assert 0 < rows[0]["confidence"] <= 1
    assert rows[1]["cause"] in taxonomy.load().causes  # an empty text still gets a reading


def test_no_model_and_another_taxonomy_version_are_clear_errors(tmp_path, home):
    with pytest.raises(UserError, match="keycare complaints train"):
        textmodel.load(tmp_path, 1)
    with pytest.raises(UserError, match="v1"):
        textmodel.load(home / "models" / "complaints", 2)


def test_need_leans_on_the_cause_when_the_text_states_no_clear_demand():
    """P(need | cause) from the training labels multiplies the need classifier's guess: an
    even guess between two needs goes to the one the likely cause's customers ask for."""
    mapping = textmodel.need_given_cause(
        ["fault", "fault", "fault", "bill"], ["repair", "repair", "refund", "refund"],
        ["bill", "fault"], ["refund", "repair"],
    )  # fmt: skip
    assert np.allclose(mapping.sum(axis=1), 1)
    assert mapping[1, 1] > mapping[1, 0]  # a fault mostly asks for a repair (add-one smoothed)
    model = textmodel.TextModel(1, None, None, None, need_given_cause=mapping)
    combined = model.combine_need(np.array([[0.1, 0.9]]), np.array([[0.5, 0.5]]))
    assert combined[0, 1] > 0.55 and np.isclose(combined.sum(), 1)
    sure = model.combine_need(np.array([[0.1, 0.9]]), np.array([[0.98, 0.02]]))
    assert sure.argmax() == 0  # a clearly stated demand still wins
    assert textmodel.TextModel(1, None, None, None).combine_need(None, combined) is combined
