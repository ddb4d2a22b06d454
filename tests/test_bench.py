"""python -m micro bench and the Results page (book/build.md, results.md)."""

import json
import shutil

import pytest

from micro import cli
from tests.clitools import ROOT, assert_usage_error, run_micro
from tools import mkdocs_hooks


PRELUDE_REPORT = (
    "names: 9 (8 train, 1 validation); vocabulary 4 symbols (2 characters"
    " + boundary + unknown)\n"
    "  unsmoothed  train 1.2000\n"
    "  add-one     train 1.2500 | val 1.3000\n"
)
FILES = ["micro/prelude.py", "micro/data/names.txt"]


@pytest.fixture
def tree(tmp_path):
    """A copy of the files a prelude entry fingerprints."""
    for name in FILES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, tmp_path / name)
    return tmp_path


# The fingerprint.


def test_fingerprint_is_deterministic_and_order_free(tree):
    first = cli.fingerprint(FILES, tree)
    assert first == cli.fingerprint(list(reversed(FILES)), tree)
    assert first == cli.fingerprint(FILES, ROOT)
    assert len(first) == 16 and int(first, 16) >= 0


@pytest.mark.parametrize("changed", FILES)
def test_fingerprint_changes_with_a_module_or_data_file(tree, changed):
    before = cli.fingerprint(FILES, tree)
    path = tree / changed
    path.write_bytes(path.read_bytes() + b"\n")
    assert cli.fingerprint(FILES, tree) != before


def test_fingerprint_notices_a_missing_file(tree):
    before = cli.fingerprint(FILES, tree)
    (tree / FILES[1]).unlink()
    assert cli.fingerprint(FILES, tree) != before


def test_fingerprint_covers_names_not_only_bytes(tree):
    (tree / "micro/copy.py").write_bytes((tree / FILES[0]).read_bytes())
    assert cli.fingerprint(["micro/prelude.py"], tree) != cli.fingerprint(
        ["micro/copy.py"], tree
    )


# Reading figures back.


def test_extract_reads_figures_baselines_and_targets():
    found = cli.extract("prelude", PRELUDE_REPORT)
    assert found["figures"] == {
        "add-one val loss": "1.3000",
        "add-one train loss": "1.2500",
    }
    # ln 4 = 1.3863: the uniform guess over 4 symbols.
    assert found["baselines"]["uniform guess"] == "1.3863"
    assert found["targets"] == [
        {"target": "val loss below the uniform guess", "met": True}
    ]
    worse = PRELUDE_REPORT.replace("val 1.3000", "val 1.5000")
    assert cli.extract("prelude", worse)["targets"][0]["met"] is False


def test_a_pattern_that_matches_nothing_is_a_clear_error():
    broken = PRELUDE_REPORT.replace(" | val 1.3000", "")
    with pytest.raises(cli.BenchError) as caught:
        cli.extract("prelude", broken)
    message = str(caught.value)
    assert message.startswith("prelude: no 'add-one val loss' in its output")
    assert "update BENCH in book/build.md" in message


def test_a_figure_that_is_not_a_number_is_a_clear_error():
    odd = PRELUDE_REPORT.replace("val 1.3000", "val 1.3.0")
    with pytest.raises(cli.BenchError, match="'1.3.0', not a number"):
        cli.extract("prelude", odd)


def test_printed_words_become_numbers():
    assert cli.number("never", "c", "f") == float("inf")
    assert cli.number("yes", "c", "f") == 1 and cli.number("no", "c", "f") == 0
    assert cli.number("9.8x", "c", "f") == 9.8
    assert cli.number("1,234", "c", "f") == 1234


OPTIMIZER_REPORT = """\
valley: u^2 + 100 w^2
  target loss 0.0001, fixed before the runs
  optimizer  best lr   loss@10   loss@50  loss@200  target  diverged
  sgd           0.01   0.01603  0.003361  0.000242   never  10 of 13
  momentum      0.01     57.83     4.485 3.919e-09      73  10 of 13
  rmsprop          1     402.6  0.003382 8.338e-05     181  5 of 13
  adam             3      50.1     1.355 9.216e-08      66  2 of 13

saddle: x^2 - y^2
  optimizer  best lr   loss@10   loss@50  loss@200  target  diverged
  sgd            0.3    0.5002  3.63e-14         0      46  6 of 13
  momentum       0.3     1.594   0.03742 2.966e-09      73  7 of 13
  rmsprop          1 0.0006563    0.1554         0       6  6 of 13
  adam          0.03     1.179  0.009738 5.964e-09   never  4 of 13

bigram: 28x28 weights
  optimizer  best lr   loss@10   loss@50  loss@200  target  diverged
  sgd            100     2.516     2.411     2.347     104  0 of 13
  momentum        30     2.664      2.35     2.339      47  0 of 13
  rmsprop        0.3     2.459     2.339     2.336      21  3 of 13
  adam           0.3     2.441     2.343     2.336      37  2 of 13
"""


def test_optimizer_rows_are_read_within_their_task():
    found = cli.extract("optimizers", OPTIMIZER_REPORT)
    assert found["baselines"] == {
        "valley, sgd (steps)": "never",
        "saddle, sgd (steps)": "46",
        "bigram, sgd (steps)": "104",
    }
    assert found["figures"]["saddle, adam (steps)"] == "never"
    assert found["figures"]["bigram, rmsprop (steps)"] == "21"
    met = {t["target"]: t["met"] for t in found["targets"]}
    assert met == {
        "Adam reaches every target": False,
        "some optimizer beats SGD on every task": True,
    }
    # A task whose table lacks a row does not borrow the next task's.
    without = OPTIMIZER_REPORT.replace("  adam             3", "  adagrad   3")
    with pytest.raises(cli.BenchError, match=r"'valley, adam \(steps\)'"):
        cli.extract("optimizers", without)


def test_every_chapter_is_measured():
    assert set(cli.BENCH) == set(cli.CHAPTERS)
    for name, spec in cli.BENCH.items():
        assert spec.figures and spec.baselines and spec.targets, name


# The command.


def test_bench_prelude_writes_one_entry_and_keeps_the_others(tmp_path):
    results = tmp_path / "bench.json"
    other = {"gpt": {"command": "python -m micro gpt", "files": []}}
    results.write_text(json.dumps(other), encoding="utf-8")
    result = run_micro("bench", "prelude", "--results", results)
    assert result.returncode == 0, result.stderr
    assert "target met: val loss below the uniform guess" in result.stdout
    recorded = json.loads(results.read_text(encoding="utf-8"))
    assert list(recorded) == ["prelude", "gpt"]  # reading order
    assert recorded["gpt"] == other["gpt"]
    entry = recorded["prelude"]
    assert entry["command"] == "python -m micro prelude"
    assert "cores" in entry["machine"] and entry["python"].count(".") == 2
    assert entry["wall_seconds"] > 0 and entry["cpu_seconds"] > 0
    # The files were observed, not guessed: the prelude loads all the data.
    assert entry["files"] == [
        "micro/data/constitution_ko.txt",
        "micro/data/docstrings.txt",
        "micro/data/names.txt",
        "micro/prelude.py",
    ]
    assert entry["fingerprint"] == cli.fingerprint(entry["files"])
    assert cli.is_current(entry)
    assert float(entry["figures"]["add-one val loss"]) < float(
        entry["baselines"]["uniform guess"]
    )
    assert not list(tmp_path.glob("*.partial"))


def test_bench_unknown_chapter_is_a_usage_error(tmp_path):
    results = tmp_path / "bench.json"
    result = run_micro("bench", "prelude", "nosuch", "--results", results)
    assert_usage_error(result, "bench", "unknown chapter 'nosuch'", "gpt")
    assert not results.exists()


def test_bench_bad_results_file_is_a_usage_error(tmp_path):
    result = run_micro("bench", "--results", tmp_path / "no" / "b.json")
    assert_usage_error(result, "bench", "folder does not exist")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    result = run_micro("bench", "prelude", "--results", broken)
    assert_usage_error(result, "bench", "not a results file")
    assert broken.read_text(encoding="utf-8") == "{not json"


def test_a_failing_run_is_reported_and_not_recorded(tmp_path, monkeypatch):
    monkeypatch.setitem(
        cli.BENCH,
        "prelude",
        cli.BENCH["prelude"]._replace(
            figures=[("absent", r"^no such line (\d+)$")]
        ),
    )
    results = tmp_path / "bench.json"
    assert cli.bench(["prelude", "--results", str(results)]) == 1
    assert not results.exists()


# The Results page.


def entry_for(files, root):
    found = cli.extract("prelude", PRELUDE_REPORT)
    return {
        "command": "python -m micro prelude",
        "date": "2000-01-01",
        "machine": "a test machine",
        "python": "3.11.0",
        "wall_seconds": 1.0,
        "cpu_seconds": 0.9,
        "fingerprint": cli.fingerprint(files, root),
        "files": files,
        **found,
    }


def rows(page):
    return {
        line.split("<td>")[1].split("<br>")[0]: line
        for line in page.splitlines()
        if line.startswith("<tr") and "<td>" in line
    }


def test_page_marks_an_entry_whose_code_changed_as_stale(tree):
    results = {"prelude": entry_for(FILES, tree)}
    fresh = rows(mkdocs_hooks.render(results, root=tree))["prelude"]
    assert "current" in fresh and "stale" not in fresh
    assert "add-one val loss: <b>1.3000</b>" in fresh
    assert "✓ val loss below the uniform guess" in fresh

    (tree / "micro/prelude.py").write_text("# edited\n", encoding="utf-8")
    page = mkdocs_hooks.render(results, root=tree)
    stale = rows(page)["prelude"]
    assert "⚠ <b>stale</b>" in stale and "current" not in stale
    assert stale.startswith(f'<tr style="{mkdocs_hooks.STALE_STYLE}">')
    assert "not current</b>: prelude, tokenizer" in page


def test_page_shows_missing_chapters_and_missed_targets(tree):
    entry = entry_for(FILES, tree)
    entry["targets"][0]["met"] = False
    page = mkdocs_hooks.render({"prelude": entry}, root=tree)
    table = rows(page)
    assert list(table) == list(cli.CHAPTERS)
    assert "✗ missed: val loss below the uniform guess" in table["prelude"]
    assert "not measured" in table["gpt"]
    assert f"{len(cli.CHAPTERS) - 1} of {len(cli.CHAPTERS)}" in page


def test_page_links_each_chapter():
    page = mkdocs_hooks.render({}, link=lambda chapter: f"../{chapter}/")
    assert '<a href="../gpt/">gpt</a>' in page


def test_results_page_has_the_marker():
    text = (ROOT / "book" / "results.md").read_text(encoding="utf-8")
    assert mkdocs_hooks.MARKER in text


# The recorded results: what keeps the page honest.


def test_every_chapter_has_a_current_recorded_entry():
    results = cli.load_results(cli.RESULTS)
    problems = []
    for chapter in cli.CHAPTERS:
        entry = results.get(chapter)
        if entry is None:
            problems.append(f"{chapter}: not measured")
        elif not cli.is_current(entry):
            problems.append(f"{chapter}: stale")
    assert not problems, (
        "; ".join(problems)
        + ": run python -m micro bench "
        + " ".join(p.split(":")[0] for p in problems)
    )
