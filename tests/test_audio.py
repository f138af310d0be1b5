"""Audio: GTZAN-layout loading, CQT framing, resumable frames files."""

import dataclasses
import filecmp

import h5py
import librosa
import numpy as np
import pytest
import soundfile

from pyunlocbox_gae import store
from pyunlocbox_gae.audio import clips as clips_module
from pyunlocbox_gae.audio import cqt as cqt_module
from pyunlocbox_gae.audio import preprocess as pre
from pyunlocbox_gae.audio.cqt import (
    CQTParams,
    clip_cqt,
    clips_cqt,
    interleave,
    silence_gap,
)
from pyunlocbox_gae.audio.gtzan import AudioFileError, find_clips, read_clip
from pyunlocbox_gae.audio.synthetic import make_dataset

SR = 22050
SMALL = CQTParams(clip_samples=SR // 2)  # 0.5 s clips: 10 frames per stream


def tone(freq, n, sr=SR):
    return np.sin(2 * np.pi * freq * np.arange(n) / sr).astype(np.float32)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    return make_dataset(root, genres=2, clips_per_genre=3, seconds=0.6)


# ---------------------------------------------------------------- CQT


@pytest.mark.parametrize("bin_", [5, 40, 90])
def test_pure_tone_peaks_in_its_bin(bin_):
    f = SMALL.fmin_hz * 2 ** (bin_ / SMALL.bins_per_octave)
    C = clip_cqt(tone(f, SMALL.clip_samples), SMALL)
    assert C.shape == SMALL.frame_shape == (10, 2, 96)
    assert C.dtype == np.float32
    assert np.all(C.mean(axis=(0, 1)).argmax() == bin_)
    # every frame of both streams, not only the mean, away from the edges
    assert np.all(C[2:-2].argmax(axis=-1) == bin_)


@pytest.mark.filterwarnings("ignore:n_fft=.* is too large")
def test_streams_are_librosa_cqt_of_the_clip_in_silence_offset_by_half_a_frame():
    y = np.random.default_rng(0).standard_normal(SMALL.clip_samples)
    C = clip_cqt(y, SMALL)
    kw = dict(sr=SR, hop_length=1024, fmin=librosa.note_to_hz("C2"), n_bins=96)
    kw["bins_per_octave"] = 24
    gap = silence_gap(SMALL)
    assert gap % 1024 == 0 and gap > 34 * SR / librosa.note_to_hz("C2")
    silence = np.zeros(gap, dtype=np.float32)
    for s, start in enumerate((0, 512)):
        stream = np.concatenate([silence, y[start:].astype(np.float32), silence])
        ref = np.abs(librosa.cqt(stream, **kw))[:, gap // 1024 :]
        # librosa centres frames: the one centred on the clip's end is dropped
        np.testing.assert_allclose(C[:, s], ref[:, : C.shape[0]].T, atol=1e-6)
    # away from its edges a frame is librosa's CQT of the clip itself
    alone = np.abs(librosa.cqt(y.astype(np.float32), **kw))
    np.testing.assert_allclose(C[8:-8, 0], alone[:, 8 : C.shape[0] - 8].T, atol=1e-5)
    rows = interleave(C[None])
    assert np.shares_memory(rows, C)
    np.testing.assert_array_equal(rows[0, 1::2], C[:, 1])


def test_clips_transformed_together_each_get_their_frames_alone():
    rng = np.random.default_rng(1)
    ys = [rng.standard_normal(n).astype(np.float32) for n in (3000, 22050, 9000)]
    together = clips_cqt(ys, SMALL)
    assert [len(c) for c in together] == [2, 21, 8]  # frames of its own length
    for y, frames in zip(ys, together, strict=True):
        np.testing.assert_allclose(frames, clips_cqt([y], SMALL)[0], atol=1e-5)
    capped = clips_cqt(ys, dataclasses.replace(SMALL, frames_per_clip=5))
    assert [len(c) for c in capped] == [2, 5, 5]
    np.testing.assert_array_equal(capped[1], together[1][:5])


def test_study_frame_counts():
    p = CQTParams()
    assert p.frame_shape == (644, 2, 96)  # 1,288 frames per 660,000-sample clip
    assert CQTParams(frames_per_clip=149).frame_shape == (149, 2, 96)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(sample_rate=2000), "above the Nyquist frequency 1000.0 Hz"),
        (dict(n_bins=200), "above the Nyquist"),
        (dict(clip_samples=1000), "shorter than one frame"),
        (dict(frame_hop=300), "must be a multiple of frame_hop=300"),
        (dict(clip_samples=4096, frames_per_clip=10), "have 3 frames per stream"),
        (dict(fmin="H9"), "not a note name"),
        (dict(fmin=-5.0), "positive frequency"),
        (dict(n_bins=0), "n_bins must be a positive integer"),
    ],
)
def test_impossible_settings_are_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CQTParams(**kwargs)


def test_other_sample_rates_and_speech_like_settings():
    p = CQTParams(
        sample_rate=16000, clip_samples=8000, n_bins=48, bins_per_octave=12, fmin=100
    )
    f = 100 * 2 ** (30 / 12)
    C = clip_cqt(tone(f, 8000, sr=16000), p)
    assert C.shape == (7, 2, 48)
    assert C.mean(axis=(0, 1)).argmax() == 30


# ---------------------------------------------------------------- reading


def test_layout_and_selection(data):
    clips, genres = find_clips(data)
    assert genres == ["drone", "pulse"]
    assert [c.label for c in clips] == [0, 0, 0, 1, 1, 1]
    clips, genres = find_clips(data, genres=["pulse"], clips_per_genre=2)
    assert genres == ["pulse"] and [c.clip_id for c in clips] == [
        "pulse/pulse.00000.wav",
        "pulse/pulse.00001.wav",
    ]
    with pytest.raises(ValueError, match="fewer than clips_per_genre=5"):
        find_clips(data, clips_per_genre=5)
    with pytest.raises(ValueError, match="genre 'jazz' has no folder"):
        find_clips(data, genres=["jazz"])
    with pytest.raises(ValueError, match="genres=3 but .* has 2 genres"):
        find_clips(data, genres=3)
    with pytest.raises(ValueError, match="no genre sub-folders holding audio"):
        find_clips(data / "drone")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_clips(data / "missing")


def test_bad_files_are_named(tmp_path):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage" * 10)
    text = tmp_path / "notes.au"
    text.write_text("this is not audio")
    empty = tmp_path / "empty.wav"
    soundfile.write(empty, np.zeros(0, np.float32), SR)
    for path, match in [
        (corrupt, "corrupt.wav: unreadable or corrupt audio"),
        (text, "notes.au: not an audio file"),
        (empty, "empty.wav: holds no samples"),
        (tmp_path / "gone.wav", "gone.wav: file does not exist"),
    ]:
        with pytest.raises(AudioFileError, match=match) as err:
            read_clip(path, SR, 100)
        assert err.value.path == str(path)


def test_short_clips_refused_or_padded(tmp_path):
    path = tmp_path / "short.flac"
    soundfile.write(path, tone(440, 1000), SR)
    with pytest.raises(AudioFileError, match="short.flac: 1000 samples at 22050 Hz"):
        read_clip(path, SR, 1500)
    y = read_clip(path, SR, 1500, short="pad")
    assert y.shape == (1500,) and y.dtype == np.float32
    assert np.all(y[1000:] == 0) and np.abs(y[:1000]).max() > 0.9


def test_wrong_rate_refused_or_resampled(tmp_path):
    path = tmp_path / "rate.wav"
    soundfile.write(path, tone(440, 44100, sr=44100), 44100, subtype="FLOAT")
    with pytest.raises(AudioFileError, match="rate.wav: sample rate 44100 Hz"):
        read_clip(path, SR, SR // 2, resample=False)
    y = read_clip(path, SR, SR // 2)
    assert y.shape == (SR // 2,)
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(spectrum.argmax() * SR / y.size - 440) < 3  # the pitch is kept


def test_stereo_is_mixed_to_mono_and_long_clips_truncated(tmp_path):
    path = tmp_path / "stereo.wav"
    stereo = np.stack([np.full(3000, 0.25), np.full(3000, 0.75)], axis=1)
    soundfile.write(path, stereo.astype(np.float32), SR, subtype="FLOAT")
    y = read_clip(path, SR, 2000)
    np.testing.assert_allclose(y, 0.5)
    assert y.shape == (2000,)


def test_synthetic_data_is_deterministic(tmp_path):
    a = make_dataset(tmp_path / "a", genres=2, clips_per_genre=1, seconds=0.2, seed=3)
    b = make_dataset(tmp_path / "b", genres=2, clips_per_genre=1, seconds=0.2, seed=3)
    c = make_dataset(tmp_path / "c", genres=2, clips_per_genre=1, seconds=0.2, seed=4)
    name = "drone/drone.00000.wav"
    assert (a / name).read_bytes() == (b / name).read_bytes()
    assert (a / name).read_bytes() != (c / name).read_bytes()
    with pytest.raises(ValueError, match="unknown synthetic genres"):
        make_dataset(tmp_path / "d", genres=["polka"])


# ---------------------------------------------------------------- frames file


def test_frames_file_contents_and_attributes(data, tmp_path):
    report = pre.preprocess(data, tmp_path / "f.h5", SMALL, progress=False)
    assert report["n_clips"] == 6 and report["n_frames"] == 6 * 20
    with store.open_h5(tmp_path / "f.h5", "frames") as f:
        for name, value in SMALL.as_attrs().items():
            assert f.attrs[name] == value, name
        assert f["frames"].chunks == (1, 10, 2, 96)
        assert f["frames"].dtype == np.float32
    F = pre.load_frames(tmp_path / "f.h5")
    assert F["params"] == SMALL
    assert F["genres"] == ["drone", "pulse"]
    assert F["labels"].tolist() == [0, 0, 0, 1, 1, 1]
    assert F["clip_ids"][3] == "pulse/pulse.00000.wav"
    y = read_clip(data / "pulse" / "pulse.00000.wav", SR, SMALL.clip_samples)
    np.testing.assert_array_equal(F["frames"][3], clip_cqt(y, SMALL))
    assert not (tmp_path / "f.h5.partial").exists()


def test_resume_after_crash_is_byte_identical(data, tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    pre.preprocess(data, tmp_path / "a" / "f.h5", SMALL, progress=False)

    calls = []
    real = pre.clip_cqt

    def crashing(y, params):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("power cut")
        return real(y, params)

    monkeypatch.setattr(pre, "clip_cqt", crashing)
    out = tmp_path / "b" / "f.h5"
    with pytest.raises(RuntimeError, match="power cut"):
        pre.preprocess(data, out, SMALL, progress=False)
    assert not out.exists()  # never a half-written final file
    with h5py.File(out.with_name("f.h5.partial")) as f:
        assert f["status"][:].tolist() == [1, 1, 1, 0, 0, 0]
    calls.clear()
    messages = []
    pre.preprocess(data, out, SMALL, progress=False, log=messages.append)
    assert len(calls) == 3  # only the unfinished clips
    assert "resuming f.h5.partial: 3/6 clips already done" in messages
    assert filecmp.cmp(out, tmp_path / "a" / "f.h5", shallow=False)
    # up to date: nothing recomputed
    calls.clear()
    assert pre.preprocess(data, out, SMALL, progress=False)["cached"]
    assert calls == []


def test_partial_of_other_settings_is_not_reused(data, tmp_path, monkeypatch):
    calls = []
    real = pre.clip_cqt

    def crashing(y, params):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("stop")
        return real(y, params)

    monkeypatch.setattr(pre, "clip_cqt", crashing)
    with pytest.raises(RuntimeError):
        pre.preprocess(data, tmp_path / "f.h5", SMALL, progress=False)
    monkeypatch.setattr(pre, "clip_cqt", real)
    other = CQTParams(clip_samples=SR // 2, n_bins=84)
    messages = []
    pre.preprocess(data, tmp_path / "f.h5", other, progress=False, log=messages.append)
    assert any("starting over" in m for m in messages)
    assert pre.load_frames(tmp_path / "f.h5")["frames"].shape == (6, 10, 2, 84)


def test_bad_file_stops_the_run_or_is_skipped_and_listed(data, tmp_path):
    bad = tmp_path / "data"
    bad.mkdir()
    for genre in ("drone", "pulse"):
        (bad / genre).mkdir()
        for src in sorted((data / genre).iterdir()):
            (bad / genre / src.name).write_bytes(src.read_bytes())
    broken = bad / "pulse" / "pulse.00001.wav"
    broken.write_bytes(broken.read_bytes()[:40])  # truncated mid-header
    with pytest.raises(AudioFileError, match="pulse.00001.wav"):
        pre.preprocess(bad, tmp_path / "f.h5", SMALL, progress=False)
    assert not (tmp_path / "f.h5").exists()
    report = pre.preprocess(
        bad,
        tmp_path / "f.h5",
        SMALL,
        on_error="skip",
        progress=False,
        log=lambda m: None,
    )
    assert report["n_clips"] == 5
    assert [s["path"] for s in report["skipped"]] == [str(broken)]
    F = pre.load_frames(tmp_path / "f.h5")
    assert "pulse/pulse.00001.wav" not in F["clip_ids"]
    assert F["skipped"] == report["skipped"]
    assert F["labels"].tolist() == [0, 0, 0, 1, 1]


# ------------------------------------------- clip_rows: resumable by batches


@pytest.fixture
def batches_of_two(monkeypatch):
    """clip_rows in batches of two 0.5-s clips: 3 batches for the 6 clips."""
    monkeypatch.setattr(clips_module, "BATCH_SECONDS", 1)
    calls = []
    real = clips_module.clips_cqt

    def counted(ys, params):
        calls.append(len(ys))
        return real(ys, params)

    monkeypatch.setattr(clips_module, "clips_cqt", counted)
    return calls


def _rows(data, out, **kw):
    return clips_module.clip_rows(data, out, SMALL, progress=False, **kw)


def test_clip_rows_resume_after_crash_is_byte_identical(
    data, tmp_path, batches_of_two, monkeypatch
):
    reference = tmp_path / "ref.h5"
    _rows(data, reference)
    assert batches_of_two == [2, 2, 2]
    batches_of_two.clear()
    real = clips_module.clips_cqt

    def crashing(ys, params):
        if len(batches_of_two) == 1:
            raise RuntimeError("power cut")
        return real(ys, params)

    monkeypatch.setattr(clips_module, "clips_cqt", crashing)
    out = tmp_path / "f.h5"
    with pytest.raises(RuntimeError, match="power cut"):
        _rows(data, out)
    assert not out.exists()  # never a half-written final file
    with h5py.File(tmp_path / "f.h5.partial") as f:
        assert f["status"][:].tolist() == [1, 1, 0, 0, 0, 0]
        assert f.attrs["batches"] == 1 and f["rows"].shape[0] == 2 * 2 * 10
    monkeypatch.setattr(clips_module, "clips_cqt", real)
    messages = []
    out_rows = _rows(data, out, log=messages.append)
    assert "resuming f.h5.partial: 2/6 clips already done" in messages
    assert not out_rows["cached"] and not (tmp_path / "f.h5.partial").exists()
    assert filecmp.cmp(out, reference, shallow=False)


def test_clip_rows_batch_cut_short_is_computed_again(
    data, tmp_path, batches_of_two, monkeypatch
):
    reference = tmp_path / "ref.h5"
    _rows(data, reference)
    batches_of_two.clear()
    syncs = []
    real = clips_module._sync

    def cut(f):  # 1 when created, 3 per batch: the 8th is the third's rows
        syncs.append(1)
        if len(syncs) == 8:
            raise RuntimeError("power cut")
        real(f)

    monkeypatch.setattr(clips_module, "_sync", cut)
    out = tmp_path / "f.h5"
    with pytest.raises(RuntimeError, match="power cut"):
        _rows(data, out)
    with h5py.File(tmp_path / "f.h5.partial") as f:  # rows there, not marked
        assert f["rows"].shape[0] == 6 * 2 * 10 and f.attrs["batches"] == 2
    monkeypatch.setattr(clips_module, "_sync", real)
    batches_of_two.clear()
    _rows(data, out, log=lambda m: None)
    assert batches_of_two == [2]  # the third batch only
    assert filecmp.cmp(out, reference, shallow=False)


def _every_batch_done(data, tmp_path, monkeypatch):
    """A reference rows file, and a run stopped before its final file."""
    reference, out = tmp_path / "ref.h5", tmp_path / "f.h5"
    _rows(data, reference)

    def power_cut(*args):
        raise RuntimeError("power cut")

    with monkeypatch.context() as patch:
        patch.setattr(clips_module, "_write_final", power_cut)
        with pytest.raises(RuntimeError, match="power cut"):
            _rows(data, out)
    return reference, out


def test_clip_rows_lost_on_the_disk_are_computed_again(
    data, tmp_path, batches_of_two, monkeypatch
):
    reference, out = _every_batch_done(data, tmp_path, monkeypatch)
    with h5py.File(tmp_path / "f.h5.partial", "r+") as f:  # clip 2's rows lost
        assert f["status"][:].tolist() == [1] * 6
        f["rows"][40:60] = 0
    messages = []
    _rows(data, out, log=messages.append)
    assert "batch 1 was not all on the disk; computing it again" in messages
    assert "resuming f.h5.partial: 2/6 clips already done" in messages
    assert filecmp.cmp(out, reference, shallow=False)


def test_clip_rows_skipped_clip_listed_once_across_a_resume(
    data, tmp_path, batches_of_two, monkeypatch
):
    bad = tmp_path / "data"
    for genre in ("drone", "pulse"):
        (bad / genre).mkdir(parents=True)
        for src in sorted((data / genre).iterdir()):
            (bad / genre / src.name).write_bytes(src.read_bytes())
    broken = bad / "drone" / "drone.00001.wav"
    broken.write_bytes(broken.read_bytes()[:40])  # truncated mid-header
    with pytest.raises(AudioFileError, match="drone.00001.wav"):
        _rows(bad, tmp_path / "raise.h5")
    reference = tmp_path / "ref.h5"
    _rows(bad, reference, on_error="skip")
    assert batches_of_two == [2, 2, 1]  # clips 0 and 2, 3 and 4, 5
    real = clips_module.clips_cqt

    def crashing(ys, params):
        if len(batches_of_two) == 4:  # the second batch of the second run
            raise RuntimeError("power cut")
        return real(ys, params)  # counted

    monkeypatch.setattr(clips_module, "clips_cqt", crashing)
    out = tmp_path / "f.h5"
    with pytest.raises(RuntimeError, match="power cut"):
        _rows(bad, out, on_error="skip")
    with h5py.File(tmp_path / "f.h5.partial") as f:
        assert f["status"][:].tolist() == [1, 2, 1, 0, 0, 0]
    monkeypatch.setattr(clips_module, "clips_cqt", real)
    rows = _rows(bad, out, on_error="skip", log=lambda m: None)
    assert filecmp.cmp(out, reference, shallow=False)
    assert [s["path"] for s in rows["skipped"]] == [str(broken)]
    assert "drone/drone.00001.wav" not in rows["clip_ids"]
    assert rows["labels"].tolist() == [0, 0, 1, 1, 1]
    assert np.bincount(rows["clips"]).tolist() == [20] * 5


@pytest.mark.parametrize("damage", ["batch", "owner", "attrs"])
def test_clip_rows_damaged_partial_starts_over(data, tmp_path, monkeypatch, damage):
    reference, out = _every_batch_done(data, tmp_path, monkeypatch)
    with h5py.File(tmp_path / "f.h5.partial", "r+") as f:  # forged or damaged
        if damage == "batch":
            del f["batch"]
            f["batch"] = np.zeros(2, np.int64)  # not one per clip
        elif damage == "owner":
            f["owner"][:] = 10**9  # clips that do not exist
        else:
            f.attrs["batches"] = "many"
    messages = []
    _rows(data, out, log=messages.append)
    assert filecmp.cmp(out, reference, shallow=False)
    if damage != "owner":  # (bad owners only make every clip's digest fail)
        assert "f.h5.partial is unreadable or damaged; starting over" in messages


def test_feature_matrix_scaling_noise_in_place():
    rng = np.random.default_rng(0)
    F = rng.random((3, 4, 2, 5), dtype=np.float32) * 7 + 2
    X = pre.feature_matrix(F)
    assert np.shares_memory(X, F) and X.dtype == np.float32
    np.testing.assert_allclose(X.min(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(X.max(axis=0), 1, atol=1e-6)
    G = rng.random((3, 4, 2, 5), dtype=np.float32) * 7 + 2
    Xs = pre.feature_matrix(G.copy(), log=True, scaling="standard")
    np.testing.assert_allclose(Xs.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(Xs.std(axis=0), 1, atol=1e-4)
    expected = np.log1p(G.reshape(-1, 5))
    expected = (expected - expected.mean(0)) / expected.std(0)
    np.testing.assert_allclose(Xs, expected, atol=1e-4)
    H = np.zeros((200, 10, 2, 5), dtype=np.float32)
    noisy = pre.feature_matrix(H, scaling="none", noise=0.2, seed=1)
    assert abs(noisy.std() - 0.2) < 0.005
    again = pre.feature_matrix(np.zeros_like(H), scaling="none", noise=0.2, seed=1)
    np.testing.assert_array_equal(noisy, again)
    with pytest.raises(ValueError, match="scaling must be one of"):
        pre.feature_matrix(H, scaling="max")


def test_unknown_options_are_errors(data, tmp_path):
    with pytest.raises(ValueError, match="on_error must be 'raise' or 'skip'"):
        pre.preprocess(data, tmp_path / "f.h5", SMALL, on_error="ignore")
    with pytest.raises(FileNotFoundError, match="folder .*nowhere does not exist"):
        pre.preprocess(data, tmp_path / "nowhere" / "f.h5", SMALL)
    assert cqt_module.CQTParams is CQTParams
