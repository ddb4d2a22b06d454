"""The command line, run as a reader runs it: python -m micro ..."""

import pathlib
import re

import pytest

from micro.tokenizer import Tokenizer
from tests.clitools import assert_usage_error, run_micro


ROOT = pathlib.Path(__file__).resolve().parent.parent
CHAPTERS = ["prelude", "tokenizer"]
PROGRESS = re.compile(r"^step +\d+/\d+ \| tokens \d+ \| \d+\.\d+s$")

PARAGRAPHS = [
    "Return the number of items in the container.\n"
    "The container may be empty, in which case zero is returned.",
    "Split the string at the first occurrence of sep, and return a tuple\n"
    "containing the part before the separator, the separator itself, and\n"
    "the part after the separator.",
    "대한민국은 민주공화국이다.\n대한민국의 주권은 국민에게 있고, "
    "모든 권력은 국민으로부터 나온다.",
    "Return a copy of the string with leading and trailing whitespace "
    "removed.",
    "모든 국민은 법 앞에 평등하다. 누구든지 성별·종교 또는 사회적 신분에 "
    "의하여 차별을 받지 아니한다.",
    "Open the file and return a corresponding file object. If the file\n"
    "cannot be opened, an error is raised.",
    "Return True if the string is a title-cased string and there is at\n"
    "least one character, False otherwise.",
    "국가는 전통문화의 계승·발전과 민족문화의 창달에 노력하여야 한다.",
    "Return the lowest index in the string where substring sub is found.",
    "Encode the string using the codec registered for encoding.",
    "Return a list of the words in the string, using sep as the delimiter.",
    "Decode the bytes using the codec registered for encoding.",
]


micro = run_micro


@pytest.fixture
def small_corpus(tmp_path):
    path = tmp_path / "small.txt"
    path.write_text("\n\n".join(PARAGRAPHS) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def default_tokenizer_run():
    return micro("tokenizer")


# Listing the chapters.


@pytest.mark.parametrize("args", [[], ["--help"], ["-h"]])
def test_no_args_lists_chapters_in_order(args):
    result = micro(*args)
    assert result.returncode == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == "usage: python -m micro [chapter] [options]"
    numbers = []
    for chapter in CHAPTERS:
        entry = re.compile(rf"^ +(\d+) +{chapter} +\S")
        matching = [m for m in map(entry.match, lines) if m]
        assert len(matching) == 1, (chapter, lines)
        numbers.append(int(matching[0][1]))
    # Reading order: the prelude is chapter 0 and comes before the tokenizer.
    assert numbers[0] == 0 and numbers == sorted(numbers)


def test_unknown_chapter():
    result = micro("nosuchchapter", "--data", "x")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert "unknown chapter 'nosuchchapter'" in result.stderr
    assert all(chapter in result.stderr for chapter in CHAPTERS)


# Bad --data files: a usage line, a message naming the file, status 2.


def bad_file(tmp_path, kind):
    path = tmp_path / f"{kind}.txt"
    if kind == "missing":
        return path, "no such file"
    if kind == "folder":
        path.mkdir()
        return path, "is a folder, not a file"
    if kind == "latin1":
        path.write_bytes("café\nnaïve\n".encode("latin-1"))
        return path, "not UTF-8 text (byte 3 is 0xe9)"
    path.write_text(" \n\n", encoding="utf-8")
    return path, "the file is empty"


@pytest.mark.parametrize("chapter", CHAPTERS)
@pytest.mark.parametrize("kind", ["missing", "folder", "latin1", "empty"])
def test_bad_data_file(tmp_path, chapter, kind):
    path, message = bad_file(tmp_path, kind)
    result = micro(chapter, "--data", path)
    assert_usage_error(result, chapter, str(path), message)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_data_with_one_distinct_item(tmp_path, chapter):
    path = tmp_path / "one.txt"
    path.write_text("same\nsame\n", encoding="utf-8")
    result = micro(chapter, "--data", path)
    assert_usage_error(result, chapter, "at least two different items")


@pytest.mark.parametrize(
    "chapter, args, message",
    [
        ("tokenizer", ["--merges", "-3"], "must be at least 0, got -3"),
        (
            "tokenizer",
            ["--merges", "abc"],
            "expected a whole number, got 'abc'",
        ),
        (
            "tokenizer",
            ["--merges", "1.5"],
            "expected a whole number, got '1.5'",
        ),
        ("prelude", ["--samples", "0"], "must be at least 1, got 0"),
        ("prelude", ["--samples", "x"], "expected a whole number"),
        ("prelude", ["--seed", "x"], "expected a whole number, got 'x'"),
        ("prelude", ["--nope"], "unrecognized arguments: --nope"),
    ],
)
def test_bad_option_values(chapter, args, message):
    assert_usage_error(micro(chapter, *args), chapter, message)


# Running the chapters.


def test_prelude_default_run():
    result = micro("prelude")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("names: 5,163 (4,662 train, 501 ")
    assert "add-one     train 2.3450 | val 2.3376" in result.stdout
    assert "prose: 4,978 English docstrings" in result.stdout


def test_prelude_own_names(tmp_path):
    path = tmp_path / "names.txt"
    path.write_text("emma\nava\nzoë\nolivia\nmia\nisla\n", encoding="utf-8")
    result = micro("prelude", "--data", path, "--samples", "3", "--seed", 4)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("names: 6 (")
    assert "samples (seed 4): " in result.stdout
    assert "prose:" not in result.stdout


def test_prelude_two_low_hashing_names(tmp_path):
    path = tmp_path / "names.txt"
    path.write_text("n2\nn8\n", encoding="utf-8")
    result = micro("prelude", "--data", path)
    assert "Traceback" not in result.stderr
    assert result.returncode == 0, result.stderr
    assert "names: 2 (1 train, 1 validation)" in result.stdout


def test_tokenizer_default_run(default_tokenizer_run):
    result = default_tokenizer_run
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    progress = [line for line in lines if line.startswith("step")]
    assert progress and all(PROGRESS.match(line) for line in progress)
    assert progress[0].startswith("step    1/1000 |")
    assert progress[-1].startswith("step 1000/1000 |")
    assert len(progress) == 11
    assert any(line.startswith("learned 1,000 merges in") for line in lines)

    header = lines.index("held-out bytes per token:") + 1
    assert lines[header].split() == ["merges", "vocab", "English", "Korean"]
    rows = [line.split() for line in lines[header + 1 : header + 6]]
    assert [row[:2] for row in rows] == [
        ["0", "256"],
        ["100", "356"],
        ["250", "506"],
        ["500", "756"],
        ["1000", "1256"],
    ]
    assert rows[0][2:] == ["1.000", "1.000"]
    assert float(rows[-1][2]) > 2.70 and float(rows[-1][3]) > 1.66

    korean = [line for line in lines if line.startswith("  Korean: ")]
    assert len(korean) == 1
    assert re.match(
        r"^  Korean: 38 bytes -> \d+ tokens: \|.*\|다\|\.\|$", korean[0]
    )
    assert any(line.startswith("  English: 44 bytes -> ") for line in lines)


def test_tokenizer_own_data(small_corpus):
    result = micro("tokenizer", "--data", small_corpus, "--merges", 5000)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    learned = [line for line in lines if line.startswith("learned ")]
    assert len(learned) == 1
    match = re.match(
        r"learned ([\d,]+) merges \(no pair occurs twice after that\)",
        learned[0],
    )
    assert match and 0 < int(match[1].replace(",", "")) < 5000
    header = lines.index("held-out bytes per token:") + 1
    assert lines[header].split() == ["merges", "vocab", "text"]
    assert lines[header + 1].split() == ["0", "256", "1.000"]
    assert "examples:" not in result.stdout


def test_tokenizer_zero_merges(small_corpus):
    result = micro("tokenizer", "--data", small_corpus, "--merges", 0)
    assert result.returncode == 0, result.stderr
    assert "learned 0 merges in" in result.stdout


def test_tokenizer_save(tmp_path):
    path = tmp_path / "bpe.txt"
    result = micro("tokenizer", "--merges", 50, "--save", path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == f"saved to {path}"
    assert len(Tokenizer.load(path).merges) == 50
    assert [p.name for p in tmp_path.iterdir()] == ["bpe.txt"]


def test_tokenizer_save_to_missing_folder(tmp_path, small_corpus):
    path = tmp_path / "no" / "such" / "bpe.txt"
    result = micro(
        "tokenizer", "--data", small_corpus, "--merges", 5, "--save", path
    )
    assert_usage_error(result, "tokenizer", str(path), "does not exist")
    assert not path.parent.exists()


@pytest.mark.parametrize("target", [".", "", "no/such/folder/bpe.txt"])
def test_bad_save_path_fails_before_training(target):
    result = micro("tokenizer", "--merges", "5", "--save", target)
    assert_usage_error(result, "tokenizer")
    assert "step" not in result.stdout


def test_one_document_file_is_named(tmp_path):
    path = tmp_path / "one.txt"
    path.write_text("a single line\n\n")
    result = micro("tokenizer", "--data", path)
    assert_usage_error(result, "tokenizer", str(path), "at least two")


def test_negative_seed_is_rejected():
    assert_usage_error(
        micro("prelude", "--seed", "-1"), "prelude", "must be at least 0"
    )
