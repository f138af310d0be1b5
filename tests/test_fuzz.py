"""A bounded run of the readers' mutation fuzzer (benchmarks/fuzz_readers.py).

The fuzzer runs in a subprocess, and each case in a worker process of its
own, so that a crash, a hang or a huge allocation is reported as such.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pyunlocbox_gae.errors import InputError

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "fuzz_readers.py"


def _module():
    spec = importlib.util.spec_from_file_location("fuzz_readers", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_fuzzer_tells_clear_errors_from_bugs(tmp_path):
    fuzz = _module()
    path = tmp_path / "x.h5"
    assert fuzz.classify(InputError("bad"), path) == "clear"
    assert fuzz.classify(FileNotFoundError(2, "missing", str(path)), path) == "clear"
    assert fuzz.classify(ValueError("bad"), path) == "bug"
    assert fuzz.classify(OSError("Can't read data"), path) == "bug"
    assert fuzz.classify(MemoryError(), path) == "memory"


def test_every_unmutated_seed_reads_correctly(tmp_path):
    # Otherwise a format could only ever give errors and look "clear".
    fuzz = _module()
    seeds = {k: str(v) for k, v in fuzz.make_seeds(tmp_path).items()}
    seeds["X"] = str(tmp_path / "X.npy")
    for fmt in fuzz.FORMATS:
        fuzz.read(fmt, Path(seeds[fmt]), seeds)


def test_mutations_change_the_file(tmp_path):
    import random

    fuzz = _module()
    rng = random.Random(0)
    raw = bytes(range(256)) * 4
    changed = [fuzz.mutate_bytes(raw, rng)[0] != raw for _ in range(50)]
    assert sum(changed) >= 45


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX resource limits")
def test_three_hundred_mutated_files_give_no_crash_hang_or_traceback(tmp_path):
    summary = tmp_path / "summary.json"
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--cases", "300", "--seed", "0",
         "--timeout", "120", "--json", str(summary), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(SCRIPT.parents[1])),
        timeout=1200,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(summary.read_text())
    assert result["findings"] == []
    totals = result["totals"]
    assert sum(totals.values()) == 300
    # Both outcomes occur: the mutations reach the readers' checks, and
    # some mutated files (data bytes only) still load correctly.
    assert totals.get("clear", 0) > 50 and totals.get("ok", 0) > 10
    assert set(result["by_format"]) == set(_module().FORMATS)
