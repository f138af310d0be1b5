"""Every bad input gets one clear error, and leaves no partial output file.

One table, :data:`CASES`, walked by one parametrized test: each case does one
thing wrong through the public API (or the ``gae`` command line) in a fresh
folder, and must raise the stated exception with a message matching the
stated pattern. Afterwards the folder must hold no file that the case did not
put there itself. Run this file as a script to print the table as markdown
(with the messages actually raised) for docs/reliability.md.
"""

import dataclasses
import io
import math
import os
import re
import sys
import tempfile
from collections.abc import Callable
from contextlib import redirect_stderr
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.sparse as sp

from pyunlocbox_gae import GraphAutoEncoder, cli, functions, graphs
from pyunlocbox_gae.audio import gtzan
from pyunlocbox_gae.audio.synthetic import make_dataset
from pyunlocbox_gae.embeddings.planetoid import UnsafePickleError, safe_load_pickle
from pyunlocbox_gae.experiments import config


@dataclasses.dataclass
class Case:
    id: str
    run: Callable  # run(folder, monkeypatch)
    error: type
    match: str
    prepare: Callable | None = None  # prepare(folder): inputs the case needs
    leaves: tuple = ()  # files left by design (resume files), not outputs


def X(N=12, n=4, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).random((N, n)).astype(dtype)


def fit(data=None, **params):
    return lambda tmp, mp: GraphAutoEncoder(**{"n_atoms": 3, **params}).fit(
        X() if data is None else data
    )


def fitted(**params):
    return GraphAutoEncoder(**{"n_atoms": 3, "max_outer": 2, **params}).fit(X())


def with_value(value, at=(0, 0)):
    data = X()
    data[at] = value
    return data


def ring(N, weight=1.0):
    """Adjacency of a ring over N vertices (symmetric, non-negative)."""
    W = sp.diags([np.ones(N - 1), np.ones(N - 1)], [1, -1], format="lil")
    W[0, N - 1] = W[N - 1, 0] = 1
    return (weight * W).tocsr()


def edited(W, i, j, value, symmetric=True):
    W = W.tolil()
    W[i, j] = value
    if symmetric:
        W[j, i] = value
    return W.tocsr()


def write_foreign(tmp):
    with h5py.File(tmp / "foreign.h5", "w") as f:
        f["components"] = np.ones((3, 4))


def write_impostor(tmp):
    """A file that claims to be a model but lacks the datasets of one."""
    with h5py.File(tmp / "impostor.h5", "w") as f:
        f.attrs["format"] = "pyunlocbox_gae/model"
        f.attrs["format_version"] = 1
        f.attrs["params"] = '{"n_atoms": 3}'


def write_truncated(tmp):
    fitted().save(tmp / "model.h5")
    data = (tmp / "model.h5").read_bytes()
    (tmp / "truncated.h5").write_bytes(data[: len(data) // 3])
    (tmp / "model.h5").unlink()


def write_model(tmp):
    fitted().save(tmp / "model.h5")


def write_graph(tmp):
    graphs.save_graph(tmp / "graph.h5", graphs.knn_graph(X(), k=3), X=X())


def write_checkpoint(tmp):
    GraphAutoEncoder(3, max_outer=2, checkpoint=tmp / "fit.h5").fit(X())


def make_readonly(tmp):
    (tmp / "readonly").mkdir()
    (tmp / "readonly").chmod(0o555)


def unwritable(tmp, mp):
    """The folder made by :func:`make_readonly`, not writable.

    Root ignores permission bits, so for root the refusal that any other
    user gets from the operating system is emulated at os.access.
    """
    folder = tmp / "readonly"
    if os.geteuid() == 0:
        real = os.access
        mp.setattr(
            os, "access", lambda p, m: False if Path(p) == folder else real(p, m)
        )
    return folder


def write_genres(tmp):
    """A tiny GTZAN-layout folder: genres 'drone' and 'pulse', one clip each."""
    make_dataset(
        tmp / "data", genres=2, clips_per_genre=1, seconds=0.5, sample_rate=8000
    )


def write_bad_audio(tmp):
    write_genres(tmp)
    (tmp / "empty.wav").write_bytes(b"")
    good = (tmp / "data" / "drone" / "drone.00000.wav").read_bytes()
    (tmp / "truncated.wav").write_bytes(good[:100])
    (tmp / "text.wav").write_text("not audio at all\n" * 50)


def write_config(text):
    def prepare(tmp):
        write_genres(tmp)
        (tmp / "run.toml").write_text('data = "data"\noutput = "out"\n' + text)

    return prepare


def write_features(tmp):
    np.save(tmp / "X.npy", X())


def write_frames_and_junk(tmp):
    (tmp / "junk.h5").write_bytes(b"junk" * 100)


def write_frames(tmp):
    """A frames file of two 0.5 s synthetic clips (``gae preprocess``)."""
    from pyunlocbox_gae.audio.cqt import CQTParams
    from pyunlocbox_gae.audio.preprocess import preprocess

    write_genres(tmp)
    params = CQTParams(
        sample_rate=8000, clip_samples=4000, n_bins=48, frame_size=256, frame_hop=128
    )
    preprocess(tmp / "data", tmp / "frames.h5", params, progress=False)


def diverging(run):
    """`run` with a data-term Lipschitz constant 10⁴ times too small."""

    def wrapped(tmp, mp):
        true = functions.fidelity_z.lipschitz
        mp.setattr(functions.fidelity_z, "lipschitz", lambda f: true(f) / 1e4)
        return run(tmp, mp)

    return wrapped


def write_pickled_npz(tmp):
    """An .npz whose array is a pickled Python object (loading it runs code)."""
    np.savez(
        tmp / "graph.npz",
        format=np.array("csr"),
        shape=np.array([2, 2]),
        indptr=np.array([0, 1, 2]),
        indices=np.array([1, 0]),
        data=np.array([{"not": "a weight"}, None], dtype=object),
    )


def write_evil_pickle(tmp):
    import pickle

    with open(tmp / "ind.cora.x", "wb") as f:
        pickle.dump(os.system, f)


def read_clip(name, **kwargs):
    return lambda tmp, mp: gtzan.read_clip(tmp / name, **kwargs)


def gae(*argv):
    """Run the command line; a failure must be exit 2 with a one-line error."""

    def run(tmp, mp):
        args = [a.format(tmp=tmp) for a in argv]
        err = io.StringIO()
        with redirect_stderr(err):
            try:
                status = cli.main(args)
            except SystemExit as exit_:  # argparse's own errors
                status = exit_.code
        text = err.getvalue().strip()
        # Progress bars end their line with a carriage return, not a newline;
        # warnings (a halved step, say) come one line each before the error.
        lines = [x for x in re.split(r"[\r\n]", text) if x.startswith("gae")]
        errors = [x for x in lines if not x.startswith("gae: warning: ")]
        if status != 2 or len(errors) != 1 or "Traceback" in text:
            raise AssertionError(f"exit {status}, stderr {text!r}")
        raise CommandLineError(errors[0])

    return run


def gae_unwritable(*argv):
    """:func:`gae` with ``{ro}`` standing for a folder that is not writable."""

    def run(tmp, mp):
        folder = unwritable(tmp, mp)
        return gae(*(a.replace("{ro}", str(folder)) for a in argv))(tmp, mp)

    return run


class CommandLineError(Exception):
    """The one line printed by a failed ``gae`` command (for the table)."""


NAN, INF = math.nan, math.inf

CASES = [
    # -- the data X -----------------------------------------------------------
    Case("X with NaN", fit(with_value(NAN)), ValueError, "Input X contains NaN"),
    Case("X with inf", fit(with_value(INF)), ValueError, "Input X contains infinity"),
    Case("empty X", fit(np.ones((0, 4))), ValueError, r"0 sample\(s\)"),
    Case(
        "one sample",
        fit(X(N=1)),
        ValueError,
        r"1 sample\(s\) \(shape=\(1, 4\)\) while a minimum of 2 is required",
    ),
    Case(
        "1-D X", fit(np.ones(12)), ValueError, "Expected 2D array, got 1D array instead"
    ),
    Case(
        "object X with strings",
        fit(np.array([["a", 1.0]] * 12, dtype=object)),
        ValueError,
        "could not convert string to float: 'a'",
    ),
    Case(
        "complex X",
        fit(X().astype(complex)),
        ValueError,
        "Complex data not supported: X holds complex128 values; .*np\\.abs",
    ),
    Case(
        "X with no features",
        fit(np.ones((12, 0))),
        ValueError,
        r"0 feature\(s\)",
    ),
    # -- parameters -------------------------------------------------------------
    Case("n_atoms < 1", fit(n_atoms=0), ValueError, r"'n_atoms' parameter .* \[1, "),
    Case(
        "negative weight",
        fit(ls=-1.0),
        ValueError,
        r"'ls' parameter .* range \[0.0, inf\)",
    ),
    Case("NaN weight", fit(lg=NAN), ValueError, r"'lg' parameter .* Got nan"),
    Case("infinite weight", fit(ld=INF), ValueError, r"'ld' parameter .* Got inf"),
    Case(
        "unknown solver",
        fit(solver="adam"),
        ValueError,
        r"'solver' parameter .* among .*'fista'.* Got 'adam'",
    ),
    Case(
        "unknown transform_algorithm",
        fit(transform_algorithm="omp"),
        ValueError,
        r"'transform_algorithm' parameter .* Got 'omp'",
    ),
    Case("rtol >= 1", fit(rtol=1.0), ValueError, r"'rtol' parameter .* \[0.0, 1.0\)"),
    Case("negative rtol_outer", fit(rtol_outer=-1e-3), ValueError, "'rtol_outer'"),
    Case("max_outer = 0", fit(max_outer=0), ValueError, r"'max_outer' parameter"),
    Case("max_inner = 2.5", fit(max_inner=2.5), ValueError, r"'max_inner' parameter"),
    Case(
        "dict_init of the wrong shape",
        fit(dict_init=np.ones((2, 4))),
        ValueError,
        r"dict_init has shape \(2, 4\), expected .* = \(3, 4\)",
    ),
    # -- graphs -----------------------------------------------------------------
    Case(
        "graph of the wrong size",
        fit(lg=1.0, graph=ring(10)),
        ValueError,
        "the graph has 10 vertices but X has 12 samples",
    ),
    Case(
        "graph with NaN weights",
        fit(lg=1.0, graph=edited(ring(12), 0, 1, NAN)),
        ValueError,
        "weights contain 2 NaN or infinite value",
    ),
    Case(
        "graph with negative weights",
        fit(lg=1.0, graph=edited(ring(12), 0, 1, -0.5)),
        ValueError,
        r"negative weight\(s\) \(smallest -0.5\)",
    ),
    Case(
        "directed graph",
        fit(lg=1.0, graph=edited(ring(12), 0, 5, 1.0, symmetric=False)),
        ValueError,
        r"the graph is directed: W is not symmetric .* W.maximum\(W.T\)",
    ),
    Case(
        "k >= n_samples",
        fit(lg=1.0, graph_params=dict(k=12)),
        ValueError,
        "k=12 neighbours need 1 <= k < n_samples = 12",
    ),
    # -- fitted models ----------------------------------------------------------
    Case(
        "transform with other features",
        lambda tmp, mp: fitted().transform(X(n=3)),
        ValueError,
        "X has 3 features, but GraphAutoEncoder is expecting 4 features",
    ),
    Case(
        "encoder transform without encoder",
        lambda tmp, mp: fitted(transform_algorithm="encoder").transform(X()),
        ValueError,
        r"needs an encoder and le > 0 \(encoder absent, le=0.0\): fit with le > 0",
    ),
    Case(
        "inverse_transform of wrong codes",
        lambda tmp, mp: fitted().inverse_transform(np.ones((5, 4))),
        ValueError,
        r"Z must have shape \(n_samples, 3\), got \(5, 4\)",
    ),
    # -- files ------------------------------------------------------------------
    Case(
        "missing model file",
        lambda tmp, mp: GraphAutoEncoder.load(tmp / "none.h5"),
        FileNotFoundError,
        "none.h5 does not exist",
    ),
    Case(
        "truncated HDF5 file",
        lambda tmp, mp: GraphAutoEncoder.load(tmp / "truncated.h5"),
        ValueError,
        "truncated.h5 is not a readable HDF5 file",
        write_truncated,
    ),
    Case(
        "foreign HDF5 file",
        lambda tmp, mp: GraphAutoEncoder.load(tmp / "foreign.h5"),
        ValueError,
        "foreign.h5 was not written by pyunlocbox_gae",
        write_foreign,
    ),
    Case(
        "HDF5 file claiming to be a model",
        lambda tmp, mp: GraphAutoEncoder.load(tmp / "impostor.h5"),
        ValueError,
        "marked as pyunlocbox_gae/model but has no dataset 'components'",
        write_impostor,
    ),
    Case(
        "graph file read as a model",
        lambda tmp, mp: GraphAutoEncoder.load(tmp / "graph.h5"),
        ValueError,
        "holds 'pyunlocbox_gae/graph', expected a 'pyunlocbox_gae/model' file",
        write_graph,
    ),
    Case(
        "graph file for other data",
        lambda tmp, mp: graphs.load_graph(tmp / "graph.h5", X=X(seed=1)),
        ValueError,
        "was built from other data than X",
        write_graph,
    ),
    Case(
        "model saved into a missing folder",
        lambda tmp, mp: fitted().save(tmp / "nope" / "model.h5"),
        FileNotFoundError,
        "folder .*nope does not exist; create it first",
    ),
    Case(
        "model saved into an unwritable folder",
        lambda tmp, mp: fitted().save(unwritable(tmp, mp) / "model.h5"),
        PermissionError,
        "readonly is not writable; choose another output folder",
        make_readonly,
    ),
    Case(
        "checkpoint of other data",
        lambda tmp, mp: GraphAutoEncoder(3, max_outer=2, checkpoint=tmp / "fit.h5").fit(
            X(seed=1)
        ),
        ValueError,
        "checkpoint .*fit.h5 does not match this fit: it was written for other data X",
        write_checkpoint,
    ),
    Case(
        "checkpoint with other parameters",
        lambda tmp, mp: GraphAutoEncoder(
            3, ls=2.0, max_outer=2, checkpoint=tmp / "fit.h5"
        ).fit(X()),
        ValueError,
        r"other parameters: ls=1\.0 there, 2\.0 here",
        write_checkpoint,
    ),
    Case(
        "checkpoint in an unwritable folder",
        lambda tmp, mp: GraphAutoEncoder(
            3, checkpoint=unwritable(tmp, mp) / "fit.h5"
        ).fit(X()),
        PermissionError,
        "folder .*readonly is not writable; pass checkpoint= a path",
        make_readonly,
    ),
    # -- objective terms --------------------------------------------------------
    Case(
        "term with a complex matrix",
        lambda tmp, mp: functions.fidelity_z(X().T.astype(complex), np.eye(4)),
        ValueError,
        "X holds complex128 values; the terms take real numbers",
    ),
    Case(
        "term with a negative weight",
        lambda tmp, mp: functions.sparsity(-1.0),
        ValueError,
        "lambda_ must be a finite non-negative number, got -1.0",
    ),
    Case(
        "term with a NaN weight",
        lambda tmp, mp: functions.dirichlet(ring(4), NAN),
        ValueError,
        "lambda_ must be a finite non-negative number, got nan",
    ),
    Case(
        "term with mismatched shapes",
        lambda tmp, mp: functions.fidelity_z(np.ones((4, 9)), np.ones((5, 3))),
        ValueError,
        r"shapes do not match: X has n_features rows, D too \(4 != 5\)",
    ),
    Case(
        "ball of radius 0",
        lambda tmp, mp: functions.proj_columns_b2(radius=0),
        ValueError,
        "radius must be positive",
    ),
    # -- audio files ------------------------------------------------------------
    Case(
        "missing audio file",
        read_clip("missing.wav"),
        gtzan.AudioFileError,
        "missing.wav: file does not exist",
    ),
    Case(
        "empty audio file",
        read_clip("empty.wav"),
        gtzan.AudioFileError,
        "empty.wav: unreadable or corrupt audio .*Format not recognised",
        write_bad_audio,
    ),
    Case(
        "truncated audio file",
        read_clip("truncated.wav", sample_rate=8000, n_samples=4000),
        gtzan.AudioFileError,
        "truncated.wav: 28 samples at 8000 Hz, shorter than the clip length 4000",
        write_bad_audio,
    ),
    Case(
        "non-audio file",
        read_clip("text.wav"),
        gtzan.AudioFileError,
        "text.wav: unreadable or corrupt audio",
        write_bad_audio,
    ),
    Case(
        "wrong-rate audio file",
        read_clip("data/drone/drone.00000.wav", resample=False),
        gtzan.AudioFileError,
        "sample rate 8000 Hz, expected 22050 Hz; allow resampling",
        write_bad_audio,
    ),
    Case(
        "mistyped config key",
        lambda tmp, mp: config.flatten({"cqt": {"n_bin": 84}}),
        ValueError,
        r"unknown config key \[cqt\] 'n_bin' \(did you mean 'n_bins'\?\)",
    ),
    # -- command line -----------------------------------------------------------
    Case(
        "unknown command",
        gae("frobnicate"),
        CommandLineError,
        "gae: error: argument COMMAND: invalid choice: 'frobnicate'",
    ),
    Case(
        "gae: missing GTZAN folder",
        gae("preprocess", "{tmp}/nope", "{tmp}/frames.h5"),
        CommandLineError,
        "gae: error: data folder .*nope does not exist",
    ),
    Case(
        "gae: GTZAN folder with no genres",
        gae("preprocess", "{tmp}", "{tmp}/frames.h5"),
        CommandLineError,
        "has no genre sub-folders holding audio files",
    ),
    Case(
        "gae: unknown genre",
        gae("preprocess", "{tmp}/data", "{tmp}/frames.h5", "--genres", "jazz"),
        CommandLineError,
        "genre 'jazz' has no folder in .*; available genres: drone, pulse",
        write_genres,
    ),
    Case(
        "gae: wrong-rate audio file",
        gae(
            "preprocess",
            "{tmp}/data",
            "{tmp}/frames.h5",
            "--sample-rate",
            "22050",
            "--no-resample",
        ),
        CommandLineError,
        "gae: error: .*drone.00000.wav: sample rate 8000 Hz, expected 22050 Hz",
        write_genres,
        leaves=("frames.h5.partial",),  # the resume file of preprocess
    ),
    Case(
        "gae: unwritable output folder",
        gae_unwritable("preprocess", "{tmp}/data", "{ro}/frames.h5"),
        CommandLineError,
        "gae: error: cannot write .*frames.h5: folder .*readonly is not writable",
        lambda tmp: (write_genres(tmp), make_readonly(tmp)),
    ),
    Case(
        "gae: mistyped config key",
        gae("run", "{tmp}/run.toml"),
        CommandLineError,
        r"unknown config key \[autoencoder\] 'n_atom' \(did you mean 'n_atoms'\?\)",
        write_config("[autoencoder]\nn_atom = 3\n"),
    ),
    Case(
        "gae: unknown config table",
        gae("run", "{tmp}/run.toml"),
        CommandLineError,
        r"unknown config key table 'autoencodr' \(did you mean 'autoencoder'\?\)",
        write_config("[autoencodr]\nn_atoms = 3\n"),
    ),
    Case(
        "gae: mistyped graph key",
        gae("run", "{tmp}/run.toml"),
        CommandLineError,
        r"unknown config key \[graph\] 'kk' \(did you mean 'k'\?\)",
        write_config("[graph]\nkk = 3\n"),
    ),
    Case(
        "gae: config value of the wrong type",
        gae("run", "{tmp}/run.toml"),
        CommandLineError,
        r"config key ld must be a float in the range \[0.0, inf\) or None; got 'ten'",
        write_config('[autoencoder]\nld = "ten"\n'),
    ),
    Case(
        "gae: config that is not TOML",
        gae("run", "{tmp}/run.toml"),
        CommandLineError,
        "run.toml is not valid TOML",
        write_config("[autoencoder\n"),
    ),
    Case(
        "gae: missing config file",
        gae("run", "{tmp}/none.toml"),
        CommandLineError,
        "config file .*none.toml does not exist",
    ),
    Case(
        "gae: truncated HDF5 input",
        gae("features", "{tmp}/junk.h5", "{tmp}/codes.h5"),
        CommandLineError,
        "junk.h5 is not a readable HDF5 file \\(truncated or not HDF5\\)",
        write_frames_and_junk,
    ),
    Case(
        "gae: foreign HDF5 input",
        gae("classify", "{tmp}/foreign.h5"),
        CommandLineError,
        "foreign.h5 is neither a frames file .* nor a features file",
        write_foreign,
    ),
    Case(
        "gae: a fit that diverges",
        diverging(
            gae(
                "features",
                "{tmp}/frames.h5",
                "{tmp}/codes.h5",
                "--lg",
                "0",
                "--n-atoms",
                "4",
                "--max-outer",
                "2",
            )
        ),
        CommandLineError,
        "gae: error: codes step: the objective .* term 'data' .* halved 5 times",
        write_frames,
    ),
    Case(
        "gae demo: mistyped parameter",
        gae("demo", "--output", "{tmp}/demo", "--set", "n_atom=3", "--no-progress"),
        CommandLineError,
        "unknown experiment parameter 'n_atom': did you mean 'n_atoms'[?]",
    ),
    Case(
        "gae demo: negative graph weight",
        gae("demo", "--output", "{tmp}/demo", "--lg", "10,-1", "--no-progress"),
        CommandLineError,
        "config key lg must be a float in the range .*; got -1.0",
    ),
    Case(
        "gae sweep: a value out of range",
        gae(
            "sweep",
            "--param",
            "ls",
            "--values",
            "1,-1",
            "--output",
            "{tmp}/sweep",
            "--no-progress",
        ),
        CommandLineError,
        "config key ls must be a float in the range .*; got -1",
    ),
    Case(
        "gae sweep: a results file that is not JSON",
        gae("sweep", "--from", "{tmp}/results.json", "--no-progress"),
        CommandLineError,
        "results.json is not a JSON result file",
        lambda tmp: (tmp / "results.json").write_text("{not json"),
    ),
    Case(
        "gae demo: --gtzan not a folder",
        gae("demo", "--gtzan", "{tmp}/none", "--output", "{tmp}/o", "--no-progress"),
        CommandLineError,
        "none is not a folder: --gtzan expects a GTZAN-layout folder",
    ),
    Case(
        "gae embed: graph file of an unknown kind",
        gae("embed", "{tmp}/graph.txt", "{tmp}/emb.h5"),
        CommandLineError,
        r"graph.txt: a graph file ends in .npz \(scipy.sparse.save_npz\) or .h5",
    ),
    Case(
        "gae embed: .npz holding a pickled object",
        gae("embed", "{tmp}/graph.npz", "{tmp}/emb.h5"),
        CommandLineError,
        "graph.npz is not a scipy sparse matrix saved by save_npz .*allow_pickle",
        write_pickled_npz,
    ),
    Case(
        "gae embed: a model file as the graph",
        gae("embed", "{tmp}/model.h5", "{tmp}/emb.h5"),
        CommandLineError,
        "model.h5 holds 'pyunlocbox_gae/model', expected a 'pyunlocbox_gae/graph'",
        write_model,
    ),
    Case(
        "gae embed: unwritable output folder",
        gae_unwritable("embed", "{tmp}/graph.h5", "{ro}/emb.h5"),
        CommandLineError,
        "gae: error: cannot write .*emb.h5: folder .*readonly is not writable",
        lambda tmp: (write_graph(tmp), make_readonly(tmp)),
    ),
    Case(
        "planetoid pickle that runs code",
        lambda tmp, mp: safe_load_pickle(tmp / "ind.cora.x"),
        UnsafePickleError,
        "refusing to load 'posix.system'",
        write_evil_pickle,
    ),
    Case(
        "gae: k >= n_samples",
        gae("graph", "build", "{tmp}/X.npy", "{tmp}/graph.h5", "--k", "12"),
        CommandLineError,
        "k=12 neighbours need 1 <= k < n_samples = 12",
        write_features,
    ),
    Case(
        "gae: graph into an unwritable folder",
        gae_unwritable("graph", "build", "{tmp}/X.npy", "{ro}/graph.h5", "--k", "3"),
        CommandLineError,
        "gae: error: cannot write .*graph.h5: folder .*readonly is not writable",
        lambda tmp: (write_features(tmp), make_readonly(tmp)),
    ),
]


def files_in(folder):
    return {p.relative_to(folder) for p in folder.rglob("*")}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gives_one_clear_error(case, tmp_path, monkeypatch):
    if case.prepare is not None:
        case.prepare(tmp_path)
    before = files_in(tmp_path)
    with pytest.raises(case.error, match=case.match):
        case.run(tmp_path, monkeypatch)
    # No partial or temporary file left, apart from declared resume files.
    assert files_in(tmp_path) - {Path(name) for name in case.leaves} == before


def test_the_table_ids_are_unique():
    assert len({c.id for c in CASES}) == len(CASES)


def test_integer_data_is_accepted_as_float64():
    Z = GraphAutoEncoder(3, max_outer=2).fit_transform(np.arange(48).reshape(12, 4))
    assert Z.dtype == np.float64


def markdown():
    """The table with the message each case raises now."""
    rows = ["| input | exception | message |", "|---|---|---|"]
    for case in CASES:
        with (
            tempfile.TemporaryDirectory() as folder,
            pytest.MonkeyPatch.context() as mp,
        ):
            folder = Path(folder)
            if case.prepare is not None:
                case.prepare(folder)
            try:
                case.run(folder, mp)
                raised, message = "none", "(no error)"
            except Exception as err:  # noqa: BLE001 - reported as found
                raised, message = type(err).__name__, str(err)
            finally:
                for p in folder.rglob("*"):
                    p.chmod(0o755)
        message = message.replace(str(folder), "...").replace("|", "\\|")
        message = message.replace("\n", " ")
        if len(message) > 200:
            message = message[:197] + "..."
        rows.append(f"| {case.id} | {raised} | {message} |")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.stdout.write(markdown() + "\n")
