"""Byte-level BPE: the worked example, the tie-break rule, both trainers
learning the same merges, exact round trips, saving and loading, and the
compression figures of the chapter."""

import codecs
import io
import json
import pathlib
import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from micro.prelude import (
    InputError,
    Progress,
    load_constitution,
    load_docstrings,
)
from micro.tokenizer import (
    SPLIT_PATTERN,
    Tokenizer,
    best_pair,
    bytes_per_token,
    chunk_counts,
    corpus,
    merge,
    train,
    train_recount,
)
from tests.clitools import python_output


ROOT = pathlib.Path(__file__).resolve().parent.parent
TRAINERS = [train, train_recount]


# note: save and load are tangled into the body of train, after its return
# statement, so Tokenizer has neither method.
@pytest.fixture(scope="module")
def book_corpus():
    return corpus()


@pytest.fixture(scope="module")
def tok1000(book_corpus):
    return train(book_corpus[0], 1000)


@pytest.fixture(scope="module")
def tok300(tok1000):
    return tok1000.truncated(300)


# The worked example: "aaabdaaabac", three merges.


@pytest.mark.parametrize("trainer", TRAINERS)
def test_worked_example(trainer):
    tok = trainer("aaabdaaabac", 3)
    assert tok.merges == [(97, 97), (97, 98), (256, 257)]
    assert tok.encode("aaabdaaabac") == [258, 100, 258, 97, 99]
    assert tok.vocab[256:] == [b"aa", b"ab", b"aaab"]
    assert len(tok) == 259


def test_merge_is_left_to_right_and_non_overlapping():
    assert merge([97, 97, 97], (97, 97), 256) == [256, 97]
    assert merge([97, 97, 97, 97], (97, 97), 256) == [256, 256]
    assert merge([1, 2, 1, 2, 1], (1, 2), 9) == [9, 9, 1]
    assert merge([], (1, 2), 9) == []
    assert merge([1], (1, 2), 9) == [1]


# The tie-break rule: most frequent, then the smallest pair of ids.


def test_best_pair_breaks_ties_by_smallest_ids():
    counts = {(1, 2): 3, (0, 5): 3, (0, 4): 3, (9, 9): 2, (0, 0): 1}
    assert best_pair(counts) == (0, 4)
    assert best_pair({(5, 1): 2, (4, 9): 2}) == (4, 9)
    assert best_pair({(5, 1): 2, (5, 0): 2}) == (5, 0)
    # Frequency first, ids second.
    assert best_pair({(0, 0): 2, (200, 200): 3}) == (200, 200)


def test_best_pair_needs_a_count_of_two():
    assert best_pair({}) is None
    assert best_pair({(0, 1): 1, (2, 3): 1}) is None


@pytest.mark.parametrize("trainer", TRAINERS)
def test_training_ties_go_to_smaller_ids(trainer):
    # "xy" and "ab" both occur twice: 97 < 120, so (a, b) goes first.
    texts = ["xyxy", "abab"]
    expected = [(97, 98), (120, 121)]
    assert trainer(texts, 2).merges == expected
    assert trainer(texts[::-1], 2).merges == expected
    # Same first id: the second id decides.
    assert trainer(["acac", "abab"], 2).merges == [(97, 98), (97, 99)]
    # The worked example's second merge: (97, 98) beats (256, 97).
    assert trainer("aaabdaaabac", 2).merges[1] == (97, 98)


def slices():
    docs, ko = load_docstrings(), load_constitution()
    return {
        "en-start": docs[:120],
        "en-middle": docs[2000:2150],
        "ko": ko[:120],
        "mixed": docs[4000:4060] + ko[200:260],
    }


@pytest.mark.parametrize("name", ["en-start", "en-middle", "ko", "mixed"])
def test_fast_and_recounting_trainers_agree(name):
    docs = slices()[name]
    slow = train_recount(docs, 120)
    assert len(slow.merges) == 120
    for k in (0, 1, 7, 60, 120):
        assert train(docs, k).merges == slow.merges[:k]


@settings(max_examples=150, deadline=None)
@given(
    texts=st.lists(st.text(alphabet="ab c\n한_1", max_size=40), max_size=4),
    num_merges=st.integers(0, 15),
)
def test_trainers_agree_on_random_text(texts, num_merges):
    assert (
        train(texts, num_merges).merges
        == train_recount(texts, num_merges).merges
    )


def test_merges_do_not_depend_on_hash_seed():
    script = (
        "import json\n"
        "from micro.prelude import load_constitution, load_docstrings\n"
        "from micro.tokenizer import train, train_recount\n"
        "docs = load_docstrings()[:300] + load_constitution()[:60]\n"
        "print(json.dumps([train(docs, 150).merges,"
        " train_recount(docs[::7], 30).merges]))\n"
    )
    outputs = [
        json.loads(python_output(script, hash_seed=seed))
        for seed in ("0", "12345")
    ]
    assert outputs[0] == outputs[1]
    docs = load_docstrings()[:300] + load_constitution()[:60]
    assert outputs[0][0] == [list(p) for p in train(docs, 150).merges]


# Only pairs seen at least twice are merged; training stops cleanly.


@pytest.mark.parametrize("trainer", TRAINERS)
@pytest.mark.parametrize(
    "text, merges",
    [
        ("abcd", []),
        ("abab", [(97, 98)]),
        ("", []),
        ("x", []),
        ("aa", []),
        ("aaa", [(97, 97)]),
        # Pairs never cross a chunk boundary: "a" and "." are chunks.
        ("a.a.", []),
        ("ab ab", [(97, 98)]),
    ],
)
def test_only_repeated_pairs_are_merged(trainer, text, merges):
    assert trainer(text, 10).merges == merges


@pytest.mark.parametrize("trainer", TRAINERS)
def test_more_merges_than_possible(trainer):
    tok = trainer("aaabdaaabac", 1000)
    assert len(tok.merges) == 3 and len(tok) == 259
    assert trainer([], 5).merges == []
    assert trainer(["", ""], 5).merges == []


@pytest.mark.parametrize("trainer", TRAINERS)
@pytest.mark.parametrize("num_merges", [-1, -100, 1.5, 2.0, "3", None])
def test_bad_num_merges(trainer, num_merges):
    with pytest.raises(ValueError, match="num_merges must be"):
        trainer("aaabdaaabac", num_merges)


def test_chunk_counts_rejects_non_str():
    with pytest.raises(TypeError, match="expected str texts, got bytes"):
        chunk_counts([b"abc"])


# The split pattern: chunks always join back into the text.


def test_split_pattern_example():
    chunks = re.findall(SPLIT_PATTERN, "we're  here:\t1234 x_y\n\n")
    assert chunks == [
        "we",
        "'re",
        " ",
        " here",
        ":",
        "\t",
        "123",
        "4",
        " x",
        "_",
        "y",
        "\n\n",
    ]


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_split_pattern_chunks_rejoin(text):
    chunks = re.findall(SPLIT_PATTERN, text)
    assert "".join(chunks) == text
    assert all(chunks)
    assert sum(chunk_counts(text).values()) == len(chunks)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_default_text_strategy_has_no_surrogates(text):
    # Hypothesis' default alphabet is characters(codec="utf-8").
    assert all(unicodedata.category(c) != "Cs" for c in text)
    text.encode("utf-8")


# Round trips: decode(encode(s)) == s for any string.


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_round_trip_any_text(tok300, text):
    ids = tok300.encode(text)
    assert tok300.decode(ids) == text
    assert tok300.decode_bytes(ids) == text.encode("utf-8")
    assert len(ids) <= len(text.encode("utf-8"))


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "     ",
        "a     b",
        "\t\t x\t",
        "\n",
        "\n\n\n",
        "\r\n",
        " \t\n\n  ",
        "\x00",
        "a\x00b\x00",
        "\x7f\x1b[0m",
        "🙂",
        "👩‍👩‍👧",
        "🇰🇷🙂🙂",
        "대한민국은 민주공화국이다.",
        "한",
        "🙂 naïve Ωmega, Привет, مرحبا, 日本語, 한국어!",
        "e\u0301",
        "\ufeffBOM",
        "\uffff\U0010ffff",
        "It's 2024: déjà vu,  대한민국!\n",
    ],
)
def test_round_trip_listed_cases(tok300, text):
    ids = tok300.encode(text)
    assert tok300.decode(ids) == text
    assert all(0 <= i < len(tok300) for i in ids)


@pytest.mark.parametrize("text", ["\ud800", "a\udcff b", "\udfff\ud800"])
def test_lone_surrogates_cannot_be_encoded(tok300, text):
    # A lone surrogate has no UTF-8 form: raising is the only way to keep
    # decode(encode(s)) == s honest.
    with pytest.raises(UnicodeEncodeError, match="surrogates not allowed"):
        tok300.encode(text)
    with pytest.raises(UnicodeEncodeError):
        train([text], 3)
    # The failure leaves nothing behind in the chunk cache.
    assert tok300.decode(tok300.encode("a b")) == "a b"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec=None), max_size=20))
def test_text_with_surrogates_round_trips_or_raises(tok300, text):
    has_surrogate = any(0xD800 <= ord(c) <= 0xDFFF for c in text)
    if has_surrogate:
        with pytest.raises(UnicodeEncodeError):
            tok300.encode(text)
    else:
        assert tok300.decode(tok300.encode(text)) == text


def test_bytes_never_seen_in_training():
    docs = [d for d in load_docstrings()[:300] if d.isascii()]
    tok = train(docs, 200)
    assert all(b < 128 for token in tok.vocab[256:] for b in token)
    for text in ["대한민국🙂", "ÿ\x80", "日本語"]:
        ids = tok.encode(text)
        # No merge uses a non-ASCII byte: the encoding is the raw bytes.
        assert ids == list(text.encode("utf-8"))
        assert tok.decode(ids) == text
    mixed = "the 대한 return 🙂 value"
    assert tok.decode(tok.encode(mixed)) == mixed


# Partial characters: decode replaces, decode_bytes is exact.


def test_partial_character_token(tok1000):
    text = "대한민국은 민주공화국이다."
    ids = tok1000.encode(text)
    partial = [i for i in ids if i >= 256 and tok1000.piece(i).startswith("<")]
    assert partial, "expected a learned token holding part of a character"
    for i in partial:
        data = tok1000.decode_bytes([i])
        assert data == tok1000.vocab[i] and data in text.encode()
        assert "\ufffd" in tok1000.decode([i])
    # Decoding token by token garbles; the whole encoding does not.
    assert "".join(tok1000.decode([i]) for i in ids) != text
    assert tok1000.decode(ids) == text


def test_partial_character_hand_made():
    tok = Tokenizer([(237, 149)])  # the first two bytes of "한"
    ids = tok.encode("한")
    assert ids == [256, 156]
    assert tok.decode(ids[:1]) == "\ufffd"
    assert tok.decode_bytes(ids[:1]) == b"\xed\x95"
    assert tok.decode(ids[1:]) == "\ufffd"
    assert tok.decode([0xFF]) == "\ufffd"


def test_incremental_decoder_reassembles_text(tok1000):
    text = "대한민국은 민주공화국이다. 🙂 naïve"
    ids = tok1000.encode(text)
    decoder = codecs.getincrementaldecoder("utf-8")()
    pieces = [decoder.decode(tok1000.decode_bytes([i])) for i in ids]
    pieces.append(decoder.decode(b"", final=True))
    assert "".join(pieces) == text
    assert "" in pieces  # an incomplete character was held back
    assert "\ufffd" not in "".join(pieces)


@pytest.mark.parametrize("bad", [-1, 1256, 10**9, "a", 1.0, None, b"a"])
def test_decode_rejects_bad_ids(tok1000, bad):
    with pytest.raises(ValueError, match="is not in the vocabulary"):
        tok1000.decode([97, bad])
    with pytest.raises(ValueError, match=r"\(0\.\.1255\)"):
        tok1000.decode_bytes([bad])


@pytest.mark.parametrize("bad", [b"abc", None, 5, ["a"]])
def test_encode_rejects_non_str(tok300, bad):
    with pytest.raises(TypeError, match="encode takes str"):
        tok300.encode(bad)


def test_tokenizer_rejects_impossible_merges():
    with pytest.raises(ValueError, match="before token 256 exists"):
        Tokenizer([(256, 97)])
    with pytest.raises(ValueError, match=r"repeats \(97, 97\)"):
        Tokenizer([(97, 97), (97, 97)])
    for bad in [(-1, 97), (True, False), (97.0, 98.0), ("a", "b")]:
        with pytest.raises(ValueError, match="whole numbers >= 0"):
            Tokenizer([bad])


def test_split_pattern_must_cover_the_text():
    with pytest.raises(ValueError, match="groups"):
        Tokenizer([], r"(a)b|c")
    with pytest.raises(ValueError, match="skips part of the text"):
        Tokenizer([], r"\w+").encode("ab a!")


def test_decode_reads_an_iterator_once():
    tok = Tokenizer([])
    assert tok.decode(iter([104, 105])) == "hi"


def test_truncated_checks_its_argument():
    tok = Tokenizer([(97, 97)])
    for bad in (-1, 1.5):
        with pytest.raises(ValueError, match="num_merges"):
            tok.truncated(bad)


# Encoding the training text gives back exactly the tokens training counted.


def test_encoding_replays_training():
    docs = load_docstrings()[500:700] + load_constitution()[:100]
    tok = train(docs, 200)
    counts = chunk_counts(docs)
    replayed = 0
    for chunk, n in counts.items():
        # What training did to the chunk: every merge, in order.
        ids = list(chunk.encode("utf-8"))
        for new_id, pair in enumerate(tok.merges, start=256):
            ids = merge(ids, pair, new_id)
        assert tok.encode_chunk(chunk) == ids
        replayed += len(ids) * n
    assert sum(len(tok.encode(d)) for d in docs) == replayed


def progress_tokens(docs, num_merges, every):
    out = io.StringIO()
    tok = train(
        docs, num_merges, progress=Progress(num_merges, every, out=out)
    )
    lines = out.getvalue().splitlines()
    steps = [int(re.match(r"step +(\d+)/", line)[1]) for line in lines]
    tokens = [int(re.search(r"tokens (\d+)", line)[1]) for line in lines]
    return tok, steps, tokens


def test_progress_reports_training_steps():
    docs = load_docstrings()[500:700] + load_constitution()[:100]
    tok, steps, tokens = progress_tokens(docs, 200, every=50)
    assert steps == [1, 50, 100, 150, 200]
    assert tokens == sorted(tokens, reverse=True)

    # The first merge saves exactly as many tokens as its pair occurs.
    counts = chunk_counts(docs)
    n_bytes = sum(len(d.encode("utf-8")) for d in docs)
    first = tok.merges[0]
    saved = sum(
        n * (len(c.encode()) - len(merge(list(c.encode()), first, 256)))
        for c, n in counts.items()
    )
    assert tokens[0] == n_bytes - saved


def test_progress_token_count_with_overlapping_pairs():
    # "aaa" and " aaa": (a, a) is counted 4 times, merging saves 2 tokens.
    tok, _, tokens = progress_tokens("aaa aaa", 1, every=1)
    assert tok.encode("aaa aaa") == [256, 97, 32, 256, 97]
    assert tokens == [5]


def test_encoding_reproduces_training_token_count():
    docs = load_docstrings()[500:700] + load_constitution()[:100]
    tok, _, tokens = progress_tokens(docs, 200, every=50)
    assert sum(len(tok.encode(d)) for d in docs) == tokens[-1]


def test_truncated_equals_shorter_training():
    docs = load_constitution()[:150] + load_docstrings()[3000:3100]
    long = train(docs, 250)
    for k in (0, 1, 33, 100, 249, 250):
        short = long.truncated(k)
        assert short.merges == train(docs, k).merges
        assert short.pattern == long.pattern
    sample = docs[0] + " " + docs[-1]
    assert long.truncated(100).encode(sample) == train(docs, 100).encode(
        sample
    )


# Saving and loading.


def saved_text(merges, pattern=SPLIT_PATTERN):
    lines = ["micro-bpe 1", f"pattern {json.dumps(pattern)}"]
    lines += [f"merges {len(merges)}"] + [f"{a} {b}" for a, b in merges]
    return "\n".join(lines) + "\n"


def test_save_format(tmp_path):
    path = tmp_path / "bpe.txt"
    train("aaabdaaabac", 3).save(path)
    assert path.read_bytes() == saved_text(
        [(97, 97), (97, 98), (256, 257)]
    ).encode("utf-8")


@pytest.mark.parametrize(
    "pattern", [SPLIT_PATTERN, r"\w+|\W", r"한+|[^한]+|\"'\\"]
)
def test_save_load_round_trip(tmp_path, tok300, pattern):
    tok = Tokenizer(tok300.merges, pattern)
    path = tmp_path / "bpe.txt"
    tok.save(str(path))
    back = Tokenizer.load(path)
    assert back.merges == tok.merges
    assert back.pattern == tok.pattern
    assert back.vocab == tok.vocab
    for text in ["", "Return the number.", "대한민국 🙂", "한한 x"]:
        assert back.encode(text) == tok.encode(text)


def test_save_is_atomic(tmp_path, tok300):
    path = tmp_path / "bpe.txt"
    path.write_text("an older, unrelated file\n")
    tok300.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bpe.txt"]
    assert Tokenizer.load(path).merges == tok300.merges
    # Saving again replaces the file, still leaving nothing else behind.
    tok300.truncated(5).save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bpe.txt"]
    assert len(Tokenizer.load(path).merges) == 5


def test_failed_save_leaves_no_temp_file(tmp_path, tok300):
    target = tmp_path / "a folder"
    target.mkdir()
    with pytest.raises(ValueError, match="not a file name"):
        tok300.save(target)
    with pytest.raises(OSError):
        tok300.save(tmp_path / "missing" / "bpe.txt")
    assert [p.name for p in tmp_path.iterdir()] == ["a folder"]
    assert list(target.iterdir()) == []


VALID = saved_text([(97, 97), (97, 98), (256, 257)])
HEAD = f"micro-bpe 1\npattern {json.dumps(SPLIT_PATTERN)}\n"


@pytest.mark.parametrize(
    "text, line, message",
    [
        (VALID.replace("micro-bpe 1", "micro-bpe 2"), 1, "not a micro BPE"),
        ("hello\n", 1, "expected 'micro-bpe 1'"),
        ("micro-bpe 1\n", 1, "file ends before the merge count"),
        (HEAD, 2, "file ends before the merge count"),
        (
            VALID.replace("pattern ", "regex "),
            2,
            "expected 'pattern <JSON string>'",
        ),
        ('micro-bpe 1\npattern "unclosed\nmerges 0\n', 2, "bad pattern"),
        ("micro-bpe 1\npattern 5\nmerges 0\n", 2, "bad pattern"),
        ('micro-bpe 1\npattern "("\nmerges 0\n', 2, "bad pattern"),
        (HEAD + "merges three\n", 3, "expected 'merges <count>'"),
        (HEAD + "merges -1\n", 3, "expected 'merges <count>'"),
        (HEAD + "count 0\n", 3, "expected 'merges <count>'"),
        (
            HEAD + "merges 3\n97 97\n97 98\n",
            5,
            "promises 3 merges, the file holds 2: truncated",
        ),
        (
            HEAD + "merges 1\n97 97\n97 98\n",
            5,
            "promises 1 merges, the file holds 2",
        ),
        (
            HEAD + "merges 2\n97 97\n97 x\n",
            5,
            "expected two token ids, got '97 x'",
        ),
        (HEAD + "merges 1\n97\n", 4, "expected two token ids"),
        (HEAD + "merges 1\n97  97\n", 4, "expected two token ids"),
        (HEAD + "merges 1\n-1 97\n", 4, "expected two token ids"),
        (
            HEAD + "merges 2\n97 97\n256 257\n",
            5,
            "merge (256, 257) uses a token that does not exist yet",
        ),
        (
            HEAD + "merges 1\n97 256\n",
            4,
            "uses a token that does not exist yet",
        ),
    ],
)
def test_load_rejects_bad_files(tmp_path, text, line, message):
    path = tmp_path / "bpe.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        Tokenizer.load(path)
    assert str(info.value).startswith(f"{path}:{line}: ")
    assert message in str(info.value)


def test_load_rejects_repeated_merge(tmp_path):
    path = tmp_path / "bpe.txt"
    path.write_text(HEAD + "merges 2\n97 97\n97 97\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"repeats \(97, 97\)") as info:
        Tokenizer.load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "data, message",
    [
        (None, "no such file"),
        (b"", "the file is empty"),
        (b"\n \n", "the file is empty"),
        (b'micro-bpe 1\npattern "\xff"\nmerges 0\n', "not UTF-8 text"),
    ],
)
def test_load_rejects_unreadable_files(tmp_path, data, message):
    path = tmp_path / "bpe.txt"
    if data is not None:
        path.write_bytes(data)
    with pytest.raises(InputError, match=message) as info:
        Tokenizer.load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("bad", ["merges ²\n", "merges 1\n97 ²\n"])
def test_load_rejects_non_ascii_digits(tmp_path, bad):
    path = tmp_path / "bpe.txt"
    path.write_text(HEAD + bad, encoding="utf-8")
    with pytest.raises(InputError):
        Tokenizer.load(path)


# Compression, measured on held-out text.


def test_bytes_per_token_without_merges(book_corpus):
    _, en_val, ko_val = book_corpus
    assert bytes_per_token(Tokenizer([]), en_val) == 1.0
    assert bytes_per_token(Tokenizer([]), ko_val) == 1.0
    assert bytes_per_token(Tokenizer([]), ["한", "ab"]) == 1.0


@pytest.mark.parametrize("docs", [[], [""], ["", ""]])
def test_bytes_per_token_needs_text(docs):
    with pytest.raises(ValueError, match="no text to measure"):
        bytes_per_token(Tokenizer([]), docs)


def test_bytes_per_token_hand_worked():
    tok = train("aaabdaaabac", 3)
    assert bytes_per_token(tok, ["aaabdaaabac"]) == 11 / 5


def test_corpus_compression(book_corpus, tok1000):
    train_docs, en_val, ko_val = book_corpus
    assert len(tok1000.merges) == 1000
    # The held-out documents are never trained on.
    assert set(en_val).isdisjoint(train_docs)
    assert set(ko_val).isdisjoint(train_docs)
    # Currently 2.713 and 1.677.
    assert bytes_per_token(tok1000, en_val) > 2.70
    assert bytes_per_token(tok1000, ko_val) > 1.66


def test_compression_grows_with_merges(book_corpus, tok1000):
    _, en_val, ko_val = book_corpus
    for docs in (en_val, ko_val):
        figures = [
            bytes_per_token(tok1000.truncated(k), docs)
            for k in (0, 100, 250, 500, 1000)
        ]
        assert figures[0] == 1.0
        assert all(a < b for a, b in zip(figures, figures[1:]))
