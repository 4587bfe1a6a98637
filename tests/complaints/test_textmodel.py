"""Segmentation, the classifier's quality and its storage."""

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
