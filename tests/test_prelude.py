"""The prelude: reading input, the fixed split, the bigram yardstick and
the shared plumbing (progress line, command-line types)."""

import argparse
import io
import json
import math
import pathlib
import random

import pytest

from micro.prelude import (
    BOUNDARY,
    UNKNOWN,
    Bigram,
    InputError,
    Progress,
    Vocab,
    _unit_hash,
    bigram_baseline,
    bigram_losses,
    bigram_sample,
    documents,
    load_names,
    mean_nll,
    positive_float,
    positive_int,
    read_lines,
    read_text,
    split,
)
from tests.clitools import python_output


ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def names():
    return load_names()


@pytest.fixture(scope="module")
def census_split(names):
    return split(names)


# Reading input: every failure is an InputError that names the file.


def test_read_text_missing_file(tmp_path):
    path = tmp_path / "nope.txt"
    with pytest.raises(InputError, match="no such file") as info:
        read_text(path)
    assert str(path) in str(info.value)


def test_read_text_folder(tmp_path):
    with pytest.raises(InputError, match="is a folder, not a file") as info:
        read_text(tmp_path)
    assert str(tmp_path) in str(info.value)


@pytest.mark.parametrize(
    "data, offset, byte",
    [
        ("café\n".encode("latin-1"), 3, "0xe9"),
        (b"\xff", 0, "0xff"),
        (b"abc\n\x80", 4, "0x80"),
        # The offset counts raw bytes, a leading BOM included.
        (b"\xef\xbb\xbfab\xfe", 5, "0xfe"),
        # A truncated multi-byte character at the very end.
        ("한".encode()[:2], 0, "0xed"),
    ],
)
def test_read_text_not_utf8_names_the_byte(tmp_path, data, offset, byte):
    path = tmp_path / "bad.txt"
    path.write_bytes(data)
    with pytest.raises(InputError) as info:
        read_text(path)
    assert str(info.value) == (
        f"{path}: not UTF-8 text (byte {offset} is {byte})"
    )


@pytest.mark.parametrize(
    "data",
    [b"", b" ", b"\n\n\n", b" \t\r\n \n", b"\xef\xbb\xbf", b"\xef\xbb\xbf \n"],
)
def test_read_text_empty_or_blank_file(tmp_path, data):
    path = tmp_path / "empty.txt"
    path.write_bytes(data)
    with pytest.raises(InputError, match="the file is empty"):
        read_text(path)
    with pytest.raises(InputError, match="the file is empty"):
        read_lines(path)


def test_read_text_strips_bom_only_at_start(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbfabc\xef\xbb\xbf\n")
    assert read_text(path) == "abc\ufeff\n"


def test_read_lines_strips_and_drops_blank_lines(tmp_path):
    path = tmp_path / "names.txt"
    path.write_bytes(b"\xef\xbb\xbfemma\r\n  ava \r\n\r\n\t\nzo\xc3\xab\n")
    assert read_lines(path) == ["emma", "ava", "zoë"]


def test_input_error_is_a_value_error():
    assert issubclass(InputError, ValueError)


# documents(): blank-line paragraphs, else one document per line.


@pytest.mark.parametrize(
    "text, docs",
    [
        ("a\nb\n\nc\n", ["a\nb", "c"]),
        ("\n\na\n\n\n\nb", ["a", "b"]),
        # A whitespace-only line separates paragraphs too.
        ("a\n  \t\nb\n", ["a", "b"]),
        # Paragraph lines lose trailing, not leading, whitespace.
        ("  a  \n  b\n\nc", ["  a\n  b", "c"]),
        # No blank line at all: one document per line, stripped.
        ("one\n two \nthree", ["one", "two", "three"]),
        ("single", ["single"]),
        ("", []),
        ("\n\n", []),
        # CRLF behaves like LF in both modes.
        ("a\r\nb\r\n\r\nc\r\n", ["a\nb", "c"]),
        ("x\r\ny\r\n", ["x", "y"]),
        ("대한\n\n민국", ["대한", "민국"]),
    ],
)
def test_documents(text, docs):
    assert documents(text) == docs


def test_load_names_census(names):
    assert len(names) == 5163
    assert len(set(names)) == len(names)
    assert all(name == name.lower() == name.strip() for name in names)
    assert all(name.isalpha() and name.isascii() for name in names)
    assert names == sorted(names)


def test_load_names_from_path(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text("Zoë\n\nAva\n", encoding="utf-8")
    # A user's file is taken as given: no lower-casing, no sorting.
    assert load_names(path) == ["Zoë", "Ava"]


# split(): decided by a hash of each item alone.


def test_split_is_deterministic(names, census_split):
    assert split(names) == census_split
    assert split(list(names)) == census_split


def test_split_does_not_depend_on_order(names, census_split):
    train, val = census_split
    shuffled = list(names)
    random.Random(1).shuffle(shuffled)
    train2, val2 = split(shuffled)
    assert sorted(train2) == sorted(train)
    assert sorted(val2) == sorted(val)


def test_split_keeps_input_order(names, census_split):
    train, val = census_split
    assert train == sorted(train) and val == sorted(val)


def test_split_holds_out_about_a_tenth(names, census_split):
    train, val = census_split
    assert len(train) + len(val) == len(names)
    assert 0.08 < len(val) / len(names) < 0.12
    assert set(train).isdisjoint(val)


def test_split_other_fraction(names):
    train, val = split(names, val_fraction=0.5)
    assert 0.45 < len(val) / len(names) < 0.55
    assert set(train).isdisjoint(val)


def test_split_follows_the_hash_rule(names, census_split):
    train, val = census_split
    assert all(_unit_hash(item) < 0.1 for item in val)
    assert all(_unit_hash(item) >= 0.1 for item in train)


def test_split_keeps_duplicates_on_one_side(names, census_split):
    train, val = census_split
    repeated = names + train[:40] + val[:40] + val[:3] * 4
    train2, val2 = split(repeated)
    assert set(train2).isdisjoint(val2)
    assert set(train2) == set(train) and set(val2) == set(val)
    assert len(train2) + len(val2) == len(repeated)
    assert val2.count(val[0]) == 6


def test_split_two_items():
    train, val = split(["a", "b"])
    assert sorted(train + val) == ["a", "b"]
    assert len(train) == len(val) == 1


def test_split_tiny_input_with_nothing_below_threshold():
    # Both items hash above 0.1: the lower one alone is held out.
    items = ["a", "b", "a"]
    assert all(_unit_hash(x) >= 0.1 for x in items)
    train, val = split(items)
    low = min(set(items), key=_unit_hash)
    assert set(val) == {low} and low not in train and train


def _low_hashing(n):
    found = (f"n{i}" for i in range(10_000) if _unit_hash(f"n{i}") < 0.1)
    return [next(found) for _ in range(n)]


@pytest.mark.parametrize("n", [2, 3])
def test_split_never_returns_an_empty_side(n):
    items = _low_hashing(n)
    train, val = split(items)
    assert train and val
    assert set(train).isdisjoint(val)


@pytest.mark.parametrize("items", [[], ["x"], ["x", "x", "x"]])
def test_split_needs_two_distinct_items(items):
    with pytest.raises(InputError, match="at least two different items"):
        split(items)


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5, 0.0, float("nan")])
def test_split_rejects_bad_fraction(fraction):
    with pytest.raises(ValueError, match="val_fraction must be in") as info:
        split(["a", "b", "c"], val_fraction=fraction)
    assert not isinstance(info.value, InputError)


def test_split_same_in_other_hash_seeds(census_split):
    script = (
        "import json; from micro.prelude import load_names, split; "
        "print(json.dumps(split(load_names())))"
    )
    for seed in ("0", "12345"):
        output = python_output(script, hash_seed=seed)
        assert json.loads(output) == list(map(list, census_split))


# Vocab: 0 is the boundary, 1 any unseen character, the rest sorted.


def test_vocab_ids():
    vocab = Vocab.from_items(["emma", "ava"])
    assert (BOUNDARY, UNKNOWN) == (0, 1)
    assert vocab.chars == ["a", "e", "m", "v"]
    assert len(vocab) == 6
    assert vocab.encode("ave") == [0, 2, 5, 3, 0]
    assert vocab.encode("") == [0, 0]


def test_vocab_is_order_independent():
    a = Vocab.from_items(["emma", "ava"])
    b = Vocab.from_items(["ava", "emma", "ava"])
    assert a.chars == b.chars and a.index == b.index


@pytest.mark.parametrize("text", ["z", "ë", "É", "한", "🙂", " ", "\x00"])
def test_vocab_unseen_characters_are_unknown(text):
    vocab = Vocab.from_items(["emma", "ava"])
    assert vocab.encode("a" + text) == [0, 2, UNKNOWN, 0]
    assert vocab.decode(vocab.encode("a" + text)) == "a?"


def test_vocab_unicode_training_chars():
    vocab = Vocab.from_items(["zoë", "한국"])
    assert vocab.chars == sorted("zoë한국")
    assert vocab.decode(vocab.encode("국ëz")) == "국ëz"


def test_vocab_decode_and_symbol():
    vocab = Vocab.from_items(["emma", "ava"])
    assert vocab.decode(vocab.encode("emma")) == "emma"
    assert vocab.decode([0, 4, 1, 4, 0]) == "m?m"
    assert [vocab.symbol(i) for i in range(len(vocab))] == list(".?aemv")


# Bigram, bigram_losses and mean_nll: known answers worked by hand.


def test_bigram_single_name_known_answer():
    vocab = Vocab.from_items(["ab"])
    data = [vocab.encode("ab")]
    mle = Bigram(len(vocab) + 1, alpha=0).fit(data)
    add_one = Bigram(len(vocab) + 1, alpha=1).fit(data)
    assert mean_nll(bigram_losses(mle), data) == 0.0
    assert mean_nll(bigram_losses(add_one), data) == pytest.approx(
        math.log(3), rel=1e-12
    )


def test_bigram_branching_row_known_answer():
    # Names "ab" and "ac"; ids . ? a b c = 0 1 2 3 4, so V = 5.
    # Pairs: .a twice, ab, ac, b. and c. once each.
    vocab = Vocab.from_items(["ab", "ac"])
    data = [vocab.encode("ab"), vocab.encode("ac")]
    assert data == [[0, 2, 3, 0], [0, 2, 4, 0]]

    # Unsmoothed: p(a|.) = 1, p(b|a) = p(c|a) = 1/2, p(.|b) = p(.|c) = 1,
    # so two of six tokens cost ln 2.
    mle = Bigram(5, alpha=0).fit(data)
    assert mle.prob(2, 3) == 0.5
    assert bigram_losses(mle)(data[0]) == [0.0, math.log(2), 0.0]
    assert mean_nll(bigram_losses(mle), data) == pytest.approx(
        math.log(2) / 3, rel=1e-12
    )

    # Add-one: p(a|.) = 3/7, p(b|a) = 2/7, p(.|b) = 2/6, each twice:
    # (ln 7/3 + ln 7/2 + ln 3) / 3 = ln(49/2) / 3.
    add_one = Bigram(5, alpha=1).fit(data)
    assert add_one.prob(0, 2) == pytest.approx(3 / 7)
    assert add_one.prob(2, 4) == pytest.approx(2 / 7)
    assert add_one.prob(4, 0) == pytest.approx(1 / 3)
    assert mean_nll(bigram_losses(add_one), data) == pytest.approx(
        math.log(49 / 2) / 3, rel=1e-12
    )

    # An unseen name "b": p(b|.) = 1/7, p(.|b) = 1/3.
    assert mean_nll(
        bigram_losses(add_one), [vocab.encode("b")]
    ) == pytest.approx(math.log(21) / 2, rel=1e-12)


def test_bigram_fractional_alpha():
    # alpha = 0.5 on "ab" with V = 4: every seen pair gets 1.5 / 3.
    vocab = Vocab.from_items(["ab"])
    data = [vocab.encode("ab")]
    model = Bigram(len(vocab), alpha=0.5).fit(data)
    assert mean_nll(bigram_losses(model), data) == pytest.approx(
        math.log(2), rel=1e-12
    )


def test_bigram_rejects_negative_alpha():
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        Bigram(4, alpha=-0.1)


def test_unsmoothed_unseen_pair_names_the_pair():
    vocab = Vocab.from_items(["ab", "ac"])
    model = Bigram(len(vocab), alpha=0).fit(
        vocab.encode(n) for n in ["ab", "ac"]
    )
    with pytest.raises(ValueError, match=r"\('\.', 'b'\)") as info:
        mean_nll(bigram_losses(model, vocab), [vocab.encode("b")])
    assert "alpha > 0" in str(info.value)
    # Without a vocab the pair is given as ids.
    with pytest.raises(ValueError, match=r"\(3, 3\)"):
        bigram_losses(model)(vocab.encode("abb"))
    # An unseen character first fails on the pair that leads to it.
    with pytest.raises(ValueError, match=r"\('\.', '\?'\)"):
        bigram_losses(model, vocab)(vocab.encode("z"))
    # A row never seen at all (here: unknown) is a zero too, not a crash.
    with pytest.raises(ValueError, match=r"\(1, 0\)"):
        bigram_losses(model)([UNKNOWN, BOUNDARY])


def test_mean_nll_checks_the_number_of_losses():
    def too_many(ids):
        return [0.0] * len(ids)

    def too_few(ids):
        return [0.0] * (len(ids) - 2)

    for token_losses in (too_many, too_few):
        with pytest.raises(ValueError, match="expected 3"):
            mean_nll(token_losses, [[0, 2, 3, 0]])


@pytest.mark.parametrize("sequences", [[], [[0]], [[0], [5]]])
def test_mean_nll_needs_tokens(sequences):
    with pytest.raises(ValueError, match="no tokens to score"):
        mean_nll(lambda ids: [1.0] * (len(ids) - 1), sequences)


def test_mean_nll_weights_by_token_not_sequence():
    # One sequence of 1 token at loss 3, one of 3 tokens at loss 1.
    def losses(ids):
        return [3.0] if len(ids) == 2 else [1.0] * 3

    assert mean_nll(losses, [[0, 0], [0, 0, 0, 0]]) == 6 / 4


@pytest.fixture(scope="module")
def census_models(census_split):
    train, _ = census_split
    vocab = Vocab.from_items(train)
    data = [vocab.encode(name) for name in train]
    mle = Bigram(len(vocab), alpha=0).fit(data)
    add_one = Bigram(len(vocab), alpha=1).fit(data)
    return vocab, data, mle, add_one


def test_rows_sum_to_one(census_models):
    vocab, _, mle, add_one = census_models
    V = len(vocab)
    for a in range(V):
        row_add_one = [add_one.prob(a, b) for b in range(V)]
        assert math.fsum(row_add_one) == pytest.approx(1, abs=1e-12)
        row_mle = [mle.prob(a, b) for b in range(V)]
        if sum(mle.counts[a]):
            assert math.fsum(row_mle) == pytest.approx(1, abs=1e-12)
        else:
            # Unknown never occurs in training: an empty row is all zero.
            assert a == UNKNOWN and not any(row_mle)


def test_mle_is_best_on_training_names(census_models, census_split):
    vocab, data, mle, add_one = census_models
    loss_mle = mean_nll(bigram_losses(mle), data)
    loss_add_one = mean_nll(bigram_losses(add_one), data)
    assert loss_mle < loss_add_one
    # Any other smoothing of the same counts does worse on training too.
    for alpha in (0.01, 0.1, 3.0):
        other = Bigram(len(vocab), alpha=alpha).fit(data)
        assert loss_mle < mean_nll(bigram_losses(other), data)
    baseline = bigram_baseline(*census_split)
    assert baseline["train_mle"] == pytest.approx(loss_mle)
    assert baseline["train"] == pytest.approx(loss_add_one)
    # Both beat a uniform guess over the vocabulary.
    assert baseline["val"] < math.log(len(vocab))


def test_bigram_sample_is_deterministic_per_seed(census_models):
    vocab, _, _, add_one = census_models

    def draw(seed):
        rng = random.Random(seed)
        return [bigram_sample(add_one, vocab, rng) for _ in range(20)]

    assert draw(3) == draw(3)
    assert draw(3) != draw(4)


def test_bigram_sample_never_draws_unknown(census_models):
    vocab, _, mle, add_one = census_models
    rng = random.Random(0)
    seen = {
        (a, b)
        for a, row in enumerate(mle.counts)
        for b, count in enumerate(row)
        if count
    }
    for model in (add_one, mle):
        for _ in range(300):
            name = bigram_sample(model, vocab, rng, max_len=12)
            assert "?" not in name and "." not in name
            assert len(name) <= 12
            assert set(name) <= set(vocab.chars)
            if model is mle:
                ids = vocab.encode(name)[:-1]
                assert all(p in seen for p in zip(ids, ids[1:]))


def test_bigram_sample_stops_on_a_dead_row():
    # Unsmoothed model of "ab" with an extra id: the row of "b" ends the
    # name, and the boundary row only ever leads to "a".
    vocab = Vocab.from_items(["ab"])
    model = Bigram(len(vocab), alpha=0).fit([vocab.encode("ab")])
    rng = random.Random(0)
    assert {bigram_sample(model, vocab, rng) for _ in range(20)} == {"ab"}
    # An empty model has nothing to draw.
    empty = Bigram(len(vocab), alpha=0)
    assert bigram_sample(empty, vocab, rng) == ""


# Progress: one line format for the whole book.


def fake_clock(*ticks):
    values = iter(ticks)
    return lambda: next(values)


def test_progress_line_format():
    out = io.StringIO()
    progress = Progress(
        1000, every=100, out=out, clock=fake_clock(0.0, 4.2, 4.25)
    )
    progress.log(100, loss=2.30121, val=2.35108)
    progress.log(101, loss=2.3)
    progress.log(1000, loss=2.0, val=2.1)
    assert out.getvalue() == (
        "step  100/1000 | loss 2.3012 | val 2.3511 | 4.2s\n"
        "step 1000/1000 | loss 2.0000 | val 2.1000 | 4.2s\n"
    )


def test_progress_line_widths_and_ints():
    progress = Progress(1000, clock=fake_clock(10.0, 10.04, 73.96))
    assert progress.line(1, tokens=1173701) == (
        "step    1/1000 | tokens 1173701 | 0.0s"
    )
    assert progress.line(1000) == "step 1000/1000 | 64.0s"


def test_progress_writes_to_stdout_by_default(capsys):
    progress = Progress(5, every=1, clock=fake_clock(0.0, 1.0))
    progress.log(1, loss=1.0)
    assert capsys.readouterr().out == "step 1/5 | loss 1.0000 | 1.0s\n"


@pytest.mark.parametrize(
    "total, every, due",
    [
        (1000, 250, [1, 250, 500, 750, 1000]),
        (250, 100, [1, 100, 200, 250]),
        (1000, None, [1, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]),
        (7, None, [1, 2, 3, 4, 5, 6, 7]),
        (1, None, [1]),
    ],
)
def test_progress_due(total, every, due):
    progress = Progress(total, every=every, clock=lambda: 0.0)
    assert [s for s in range(1, total + 1) if progress.due(s)] == due


# Command-line types.


@pytest.mark.parametrize("text, value", [("1", 1), ("42", 42), (" 7 ", 7)])
def test_positive_int_accepts(text, value):
    assert positive_int(text) == value


@pytest.mark.parametrize(
    "text, message",
    [
        ("0", "must be at least 1, got 0"),
        ("-3", "must be at least 1, got -3"),
        ("x", "expected a whole number, got 'x'"),
        ("1.5", "expected a whole number, got '1.5'"),
        ("", "expected a whole number"),
    ],
)
def test_positive_int_rejects(text, message):
    with pytest.raises(argparse.ArgumentTypeError) as info:
        positive_int(text)
    assert message in str(info.value)


def test_documents_ignores_blank_lines_at_the_ends():
    assert documents("a\nb\nc\n\n") == ["a", "b", "c"]
    assert documents("\n\na\n\nb\n") == ["a", "b"]


def test_split_accepts_an_iterator():
    assert split(iter(["a", "b", "c"])) == split(["a", "b", "c"])


def test_mean_nll_rejects_non_finite_losses():
    with pytest.raises(ValueError, match="not finite"):
        mean_nll(lambda ids: [math.inf], [[0, 1]])


def test_positive_float():
    assert positive_float("0.5") == 0.5
    for bad in ("0", "-2", "nan", "inf", "x"):
        with pytest.raises(argparse.ArgumentTypeError, match="number"):
            positive_float(bad)
