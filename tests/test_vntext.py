import unicodedata

import pytest

from retrieval.restore import DiacriticRestorer
from vntext.normalize import (
    canonical_tone_marks,
    clean_input,
    expand_teencode,
    fold,
    has_diacritics,
    is_mostly_letters,
    syllables,
)


def test_fold_removes_marks_and_d_stroke():
    assert fold("Đảng ủy HĐND thành phố") == "dang uy hdnd thanh pho"
    assert fold("Nghị quyết") == fold("nghi quyet")


def test_fold_is_the_same_for_nfc_and_nfd():
    text = "Xã hội chủ nghĩa, văn hóa"
    assert fold(unicodedata.normalize("NFD", text)) == fold(text)


def test_clean_input_nfc_controls_whitespace_and_length():
    nfd = unicodedata.normalize("NFD", "Tiếng Việt")
    assert clean_input(nfd) == "Tiếng Việt"
    assert clean_input("a\x00b\u200bc\x1b  \n d") == "a b c d"
    assert clean_input("   ") == ""
    long = "từ " * 5000
    cut = clean_input(long, max_chars=100)
    assert len(cut) <= 100 and cut.endswith("từ")


@pytest.mark.parametrize(
    "written, canonical",
    [("hoá", "hóa"), ("văn hoá", "văn hóa"), ("khoẻ", "khỏe"), ("thuý", "thúy"),
     ("Hoà bình", "Hòa bình"), ("HOÁ", "HÓA"),
     # Unchanged: a final consonant, "qu", or a mark that can sit nowhere else.
     ("hoàn", "hoàn"), ("quý", "quý"), ("thuế", "thuế")],
)
def test_tone_marks_take_one_spelling(written, canonical):
    assert canonical_tone_marks(written) == canonical


def test_teencode_expands_chat_shorthand_only():
    assert expand_teencode("ko biết xhcn la j") == "không biết xã hội chủ nghĩa la gì"
    assert expand_teencode("hp dc ntn") == "Hải Phòng được như thế nào"
    # Ordinary words are left alone.
    assert expand_teencode("kinh tế xanh") == "kinh tế xanh"


def test_syllables_are_folded_words():
    assert syllables("Giai đoạn 2026–2030!") == ["giai", "doan", "2026", "2030"]


def test_letters_and_diacritics_detection():
    assert not is_mostly_letters("😀😀😀")
    assert not is_mostly_letters("12345 !!!")
    assert is_mostly_letters("mô hình")
    assert has_diacritics("mô hình") and not has_diacritics("mo hinh")


def test_restorer_learns_accents_from_text():
    restorer = DiacriticRestorer([
        "Nhà ở xã hội chủ nghĩa tại Hải Phòng",
        "xử lý rác thải hiệu quả",
        "chủ quyền số địa phương",
    ])
    assert restorer.restore("nha o xa hoi chu nghia") == "nhà ở xã hội chủ nghĩa"
    assert restorer.restore("Hai Phong xu ly rac thai") == "Hải Phòng xử lý rác thải"
    # Unknown words stay as typed; text typed with diacritics is left alone.
    assert restorer.restore("hello world") == "hello world"
    assert restorer.restore("nhà hoa đẹp") == "nhà hoa đẹp"


def test_syllables_by_word_equal_folding_the_whole_text():
    """`syllables` folds word by word (cached); the result must equal fold-then-split."""
    import re
    import unicodedata

    from vntext.normalize import fold, syllables

    texts = [
        "Thành phố Văn minh – Hạnh phúc; ĐƯỜNG Điện Biên Phủ, 1,5 lần",
        "a\u0301b c", " \u0301a", ".\u0301.", "b\u0301c", "İstanbul x_y ½",
    ]
    for text in texts + [unicodedata.normalize("NFD", t) for t in texts]:
        assert syllables(text) == re.findall(r"\w+", fold(text))
