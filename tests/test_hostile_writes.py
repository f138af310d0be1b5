"""Careless paths and hostile conditions for writers: special files, links,
outputs that are inputs, a full disk, two runs on one folder, links to
nowhere. Each ends with one clear error and the earlier files intact."""

import errno
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

from pyunlocbox_gae import GraphAutoEncoder, safewrite, store
from pyunlocbox_gae.audio import preprocess as pre
from pyunlocbox_gae.audio.cqt import CQTParams
from pyunlocbox_gae.audio.gtzan import AudioFileError
from pyunlocbox_gae.audio.synthetic import make_dataset
from pyunlocbox_gae.cli import main
from pyunlocbox_gae.errors import BusyError, InputError, StorageError, UnsafeFileError

SMALL = CQTParams(clip_samples=22050 // 2)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    return make_dataset(root, genres=2, clips_per_genre=3, seconds=0.6)


@pytest.fixture(scope="module")
def model():
    X = np.random.default_rng(0).random((20, 3))
    return GraphAutoEncoder(n_atoms=2, max_outer=1, random_state=0).fit(X)


def _gae(*argv, capsys):
    status = main([str(a) for a in argv])
    return status, capsys.readouterr().err


# ------------------------------------------------ 6: special files and links


def _device(tmp_path):
    """A character device to write to, made where a failure harms nothing.

    As root, a fresh node with /dev/null's numbers in the test's folder (a
    regression must not replace the machine's /dev/null); without root,
    /dev/null itself, which a non-root writer cannot replace anyway.
    """
    node = tmp_path / "null"
    try:
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        return Path("/dev/null")
    return node


def test_saving_to_a_device_is_refused_and_the_device_kept(model, tmp_path):
    device = _device(tmp_path)
    with pytest.raises(UnsafeFileError, match=f"{device} is a character device"):
        model.save(device)
    assert stat.S_ISCHR(os.stat(device).st_mode)


def test_a_fifo_is_not_replaced(model, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(UnsafeFileError, match="FIFO"):
        model.save(fifo)
    assert not fifo.is_file() and fifo.exists()


def test_a_symlink_at_the_target_is_neither_replaced_nor_followed(model, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    link = tmp_path / "model.h5"
    link.symlink_to(victim)
    with pytest.raises(UnsafeFileError, match="symbolic link"):
        model.save(link)
    assert link.is_symlink() and victim.read_text() == "keep me"


def test_a_link_planted_at_the_temporary_name_is_not_followed(model, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / f".model.h5.tmp{os.getpid()}").symlink_to(victim)
    model.save(tmp_path / "model.h5")
    assert victim.read_text() == "keep me"
    assert GraphAutoEncoder.load(tmp_path / "model.h5").n_atoms == 2


def test_cli_output_to_dev_stdout_is_refused(tmp_path, capsys):
    frames = tmp_path / "f.h5"
    status, err = _gae("classify", frames, "--output", "/dev/stdout", capsys=capsys)
    assert status == 2 and "/dev/stdout is a symbolic link" in err


# ------------------------------------------------ 7: outputs that are inputs


def test_graph_build_onto_its_own_input_is_refused(tmp_path, capsys):
    X = tmp_path / "X.npy"
    np.save(X, np.random.default_rng(0).random((20, 3)))
    before = X.read_bytes()
    status, err = _gae("graph", "build", X, tmp_path / "." / "X.npy", capsys=capsys)
    assert status == 2 and "is the input" in err
    assert X.read_bytes() == before


def test_an_output_hard_linked_to_the_input_is_refused(tmp_path):
    X = tmp_path / "X.npy"
    X.write_bytes(b"data")
    os.link(X, tmp_path / "Y.npy")
    with pytest.raises(InputError, match="is the input"):
        store.check_not_input(tmp_path / "Y.npy", X)


def test_preprocess_onto_a_source_clip_is_refused(data, capsys):
    clip = data / "drone" / "drone.00001.wav"
    before = clip.read_bytes()
    status, err = _gae("preprocess", data, clip, "--quiet", capsys=capsys)
    assert status == 2 and "is the input" in err
    assert clip.read_bytes() == before


@pytest.mark.parametrize("command", ["features", "classify"])
def test_features_and_classify_onto_the_frames_file_are_refused(
    data, tmp_path, capsys, command
):
    frames = tmp_path / "f.h5"
    pre.preprocess(data, frames, SMALL, progress=False)
    before = frames.read_bytes()
    argv = (
        [command, frames, frames]
        if command == "features"
        else [
            command,
            frames,
            "--output",
            frames,
        ]
    )
    status, err = _gae(*argv, capsys=capsys)
    assert status == 2 and "is the input" in err
    assert frames.read_bytes() == before


# ------------------------------------------------ 2: a full disk


def _lose_frames(partial, clip):
    """What a disk that dropped writes leaves: a clip marked done, no frames."""
    with h5py.File(partial, "r+") as f:
        f["frames"][clip] = 0
        f["status"][clip] = pre.DONE


def test_clips_marked_done_but_not_on_disk_are_computed_again(
    data, tmp_path, monkeypatch
):
    reference = tmp_path / "ref.h5"
    pre.preprocess(data, reference, SMALL, progress=False)
    out = tmp_path / "f.h5"

    def power_cut(*args):
        raise RuntimeError("power cut")

    # Every clip done, then the run stops before the final file.
    monkeypatch.setattr(pre, "_write_final", power_cut)
    with pytest.raises(RuntimeError, match="power cut"):
        pre.preprocess(data, out, SMALL, progress=False)
    monkeypatch.undo()
    _lose_frames(tmp_path / "f.h5.partial", 2)
    messages = []
    pre.preprocess(data, out, SMALL, progress=False, log=messages.append)
    assert "1 clips marked done were not on the disk; computing them again" in messages
    np.testing.assert_array_equal(
        pre.load_frames(out)["frames"], pre.load_frames(reference)["frames"]
    )


def test_disk_full_while_computing_is_one_clear_error_and_resumable(
    data, tmp_path, monkeypatch
):
    out = tmp_path / "f.h5"
    earlier = tmp_path / "earlier.h5"
    pre.preprocess(data, earlier, SMALL, progress=False)
    before = earlier.read_bytes()
    calls = []
    real = pre._sync

    def full_disk(f):
        calls.append(1)
        if len(calls) == 6:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(f)

    monkeypatch.setattr(pre, "_sync", full_disk)
    with pytest.raises(StorageError, match="no space left on the disk"):
        pre.preprocess(data, out, SMALL, progress=False)
    assert earlier.read_bytes() == before and not out.exists()
    monkeypatch.setattr(pre, "_sync", real)
    pre.preprocess(data, out, SMALL, progress=False)
    np.testing.assert_array_equal(
        pre.load_frames(out)["frames"], pre.load_frames(earlier)["frames"]
    )


def test_a_disk_too_small_for_the_frames_is_refused_before_the_work(
    data, tmp_path, monkeypatch
):
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(
        safewrite.shutil, "disk_usage", lambda p: usage._replace(free=1000)
    )
    with pytest.raises(StorageError, match="the frames need .* which has 1000 bytes"):
        pre.preprocess(data, tmp_path / "f.h5", SMALL, progress=False)


FULL_TMPFS = textwrap.dedent(
    """
    import sys
    from pyunlocbox_gae import store
    from pyunlocbox_gae.cli import main
    store.check_space = lambda *a: None  # let the disk fill during the run
    sys.exit(main(sys.argv[1:]))
    """
)


def _tmpfs_allowed():
    """Whether this process may mount a tmpfs (root, and a sandbox that allows it)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    probe = tempfile.mkdtemp()
    try:
        mount = ["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", probe]
        allowed = subprocess.run(mount, capture_output=True).returncode == 0
        if allowed:
            subprocess.run(["umount", probe], check=True)
        return allowed
    finally:
        os.rmdir(probe)


# A real full disk needs a small tmpfs; the simulated ENOSPC test above runs
# everywhere.
@pytest.mark.skipif(not _tmpfs_allowed(), reason="mounting a tmpfs is not allowed")
@pytest.mark.parametrize(
    "size, full", [("24k", "f.h5.partial;"), ("64k", "f.h5;")]
)  # the disk fills while the clips are computed, or while the final file is written
def test_a_really_full_disk_ends_with_one_line_not_a_crash(data, tmp_path, size, full):
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", disk], check=True
    )
    try:
        argv = ["preprocess", data, disk / "f.h5", "--clip-samples", "11025", "--quiet"]
        run = subprocess.run(
            [sys.executable, "-c", FULL_TMPFS, *map(str, argv)],
            capture_output=True,
            text=True,
            cwd=os.getcwd(),
            env=dict(os.environ, PYTHONPATH=os.getcwd()),
        )
    finally:
        subprocess.run(["umount", disk])
    assert run.returncode == 2, run.stderr[-2000:]
    assert run.stderr.startswith("gae: error: no space left on the disk")
    assert f"while writing {full}" in run.stderr and run.stderr.count("\n") == 1


# ------------------------------------------------ 10: two runs on one folder


HOLD_LOCK = textwrap.dedent(
    """
    import sys, time
    from pyunlocbox_gae import store
    with store.folder_lock(sys.argv[1]):
        print("locked", flush=True)
        time.sleep(60)
    """
)


def test_a_second_run_on_the_same_folder_is_refused_and_harms_nothing(data, tmp_path):
    partial = tmp_path / "f.h5.partial"
    partial.write_bytes(b"the first run's partial file")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=os.getcwd()),
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(BusyError, match=f"another run is using {tmp_path}"):
            pre.preprocess(data, tmp_path / "f.h5", SMALL, progress=False)
    finally:
        holder.kill()
        holder.wait()
    assert partial.read_bytes() == b"the first run's partial file"
    assert (
        pre.preprocess(data, tmp_path / "f.h5", SMALL, progress=False)["n_clips"] == 6
    )


# ------------------------------------------------ 8: links to nowhere


@pytest.fixture
def dangling(tmp_path):
    root = make_dataset(tmp_path / "d", genres=2, clips_per_genre=3, seconds=0.6)
    link = root / "drone" / "drone.00009.wav"
    link.symlink_to(tmp_path / "gone.wav")
    return root, link


def test_a_dangling_clip_link_stops_the_run_under_raise(dangling, tmp_path):
    root, link = dangling
    with pytest.raises(AudioFileError, match="drone.00009.wav: a symbolic link to"):
        pre.preprocess(root, tmp_path / "f.h5", SMALL, progress=False)


def test_a_dangling_clip_link_is_listed_when_skipped(dangling, tmp_path):
    root, link = dangling
    report = pre.preprocess(
        root, tmp_path / "f.h5", SMALL, on_error="skip", progress=False, log=print
    )
    assert report["n_clips"] == 6
    assert [s["path"] for s in report["skipped"]] == [str(link)]


# ------------------------------------------------ 11, 13: clear messages


def test_an_output_folder_that_is_a_file_is_one_clear_error(tmp_path):
    from pyunlocbox_gae.experiments import run

    (tmp_path / "out").write_text("a file")
    with pytest.raises(InputError, match="is a file, not a folder"):
        run.run(dict(dataset=str(tmp_path)), tmp_path / "out", progress=False)


def test_a_report_json_holding_a_list_is_not_a_cache(tmp_path):
    (tmp_path / "report.json").write_text("[1, 2, 3]")
    assert store.read_json_object(tmp_path / "report.json") is None
    (tmp_path / "report.json").write_text('{"key": 1}')
    assert store.read_json_object(tmp_path / "report.json") == {"key": 1}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["demo", "--noise", ""], "--noise expects comma-separated numbers (finite)"),
        (["demo", "--lg", "nan"], "--lg expects comma-separated numbers (finite)"),
    ],
)
def test_demo_options_give_one_line(argv, message, capsys):
    status, err = _gae(*argv, capsys=capsys)
    assert status == 2 and message in err and "Traceback" not in err


@pytest.mark.parametrize(
    "fmin, message",
    [
        ("nan", "fmin must be a float in the range (0.0, inf)"),
        ("1e-30", "has a period longer than a clip"),
    ],
)
def test_impossible_fmin_gives_one_line(data, tmp_path, capsys, fmin, message):
    status, err = _gae(
        "preprocess", data, tmp_path / "f.h5", "--fmin", fmin, capsys=capsys
    )
    assert status == 2 and message in err


def test_an_empty_genre_list_is_one_clear_error(data, tmp_path):
    with pytest.raises(InputError, match="genres is an empty list"):
        pre.preprocess(data, tmp_path / "f.h5", SMALL, genres=[], progress=False)


def test_same_content_gives_the_same_bytes_at_another_time(model, tmp_path):
    import time

    model.save(tmp_path / "a.h5")
    time.sleep(1.1)  # HDF5 stores times in seconds: none may be stored
    model.save(tmp_path / "b.h5")
    assert (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()


def test_a_second_run_on_the_same_folder_is_refused(data, tmp_path):
    from pyunlocbox_gae.experiments import run

    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(out)],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=os.getcwd()),
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(BusyError, match=f"another run is using {out}"):
            run.run(dict(dataset=str(data)), out, progress=False)
    finally:
        holder.kill()
        holder.wait()
    assert not (out / "cache").exists()  # no stage ran
