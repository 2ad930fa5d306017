"""`oneshot-face --self-test` (what CI runs inside the PyInstaller bundle) and the bundle manifest
that build.spec reads: the self-test must pass on a real face and fail in one readable line
otherwise; the manifest must name files that exist and exclude nothing the app imports."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app import bundle_manifest as manifest
from app import paths
from app.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _self_test(*args: str, timeout: float = 300, **env_vars: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", **env_vars)
    return subprocess.run([sys.executable, "-m", "app", "--self-test", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _data_files() -> list[Path]:
    root = Path(os.environ["ONESHOT_DATA_DIR"])
    return sorted(p for p in root.rglob("*")) if root.exists() else []


@pytest.mark.parametrize("detector", ["yunet", "haar"])
def test_self_test_passes_on_a_real_face(detector, samples_dir, yunet_path, tmp_path):
    """YuNet without --detector-model and without ../shared: the copy shipped in models/."""
    before = _data_files()
    proc = _self_test(str(samples_dir / "obama.jpg"), "--detector", detector,
                      ONESHOT_SHARED=str(tmp_path / "no-shared"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert (f"detector yunet ({yunet_path})" if detector == "yunet" else "detector haar (") in out
    assert ("Haar chosen: more faces missed" in out) == (detector == "haar")
    faces = re.search(r"(\d+) face\(s\) in obama\.jpg", out)
    assert faces and int(faces.group(1)) >= 1, out
    assert "identified 'Self Test' at distance" in out
    assert "training step: triplet loss" in out
    assert "main window built on Qt platform 'offscreen'" in out
    assert "People list ['Self Test']" in out
    assert out.rstrip().splitlines()[-1].startswith("self-test: passed")
    assert "Traceback" not in proc.stderr
    # it worked in a temporary folder of its own: the user's data folder is untouched
    assert _data_files() == before


def test_self_test_says_haar_fallback_when_the_yunet_file_is_missing(samples_dir, tmp_path):
    missing = tmp_path / "hidden.onnx"
    proc = _self_test(str(samples_dir / "obama.jpg"), ONESHOT_YUNET=str(missing),
                      ONESHOT_SHARED=str(tmp_path / "no-shared"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "detector haar (" in proc.stdout
    assert f"self-test: Haar fallback: more faces missed; YuNet file missing at {missing}\n" in proc.stdout
    assert "status bar: 'detector haar – Haar fallback: more faces missed; YuNet file missing'" in proc.stdout


def _assert_one_line_failure(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("self-test FAILED: ")
    for w in words:
        assert w in lines[0], lines[0]
    assert "self-test: passed" not in proc.stdout


def test_self_test_fails_in_one_line_without_a_face(tmp_path):
    photo = tmp_path / "wall.png"
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((240, 320, 3)) * 40 + 100).astype(np.uint8)).save(photo)
    proc = _self_test(str(photo), "--detector", "haar")
    _assert_one_line_failure(proc, "no face", "wall.png")


def test_self_test_fails_in_one_line_on_a_non_image(tmp_path):
    photo = tmp_path / "notes.jpg"
    photo.write_text("not a photo\n")
    _assert_one_line_failure(_self_test(str(photo), "--detector", "haar"), "notes.jpg", "not an image")


def test_self_test_fails_on_a_missing_photo(tmp_path):
    _assert_one_line_failure(_self_test(str(tmp_path / "absent.jpg"), "--detector", "haar"), "does not exist")


def test_self_test_fails_on_unusable_weights(tmp_path, samples_dir):
    """The app falls back to the shipped model on bad --weights; a check of an install must not."""
    bad = tmp_path / "mine.pt"
    bad.write_bytes(b"\0" * 100)
    proc = _self_test(str(samples_dir / "obama.jpg"), "--detector", "haar", "--weights", str(bad))
    _assert_one_line_failure(proc, "shipped model")


def test_self_test_takes_no_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--self-test", "x.jpg", "people"])
    assert exc.value.code == 2
    assert "--self-test takes no command" in capsys.readouterr().err


# ---- what build.spec puts into the bundle -------------------------------------------------------

def test_bundle_data_files_exist_and_go_where_the_app_looks():
    pairs = manifest.data_files(ROOT)
    for src, dest in pairs:
        assert Path(src).is_file(), src
        assert not Path(dest).is_absolute() and ".." not in Path(dest).parts, dest
    placed = {f"{dest}/{Path(src).name}" for src, dest in pairs}
    assert {"models/encoder.pt", "models/encoder.json", f"models/{paths.YUNET_FILENAME}", "models/YUNET_LICENSE",
            "cv2/data/haarcascade_frontalface_default.xml"} <= placed
    shipped = {f"resources/{p.relative_to(ROOT / 'resources').as_posix()}"
               for p in (ROOT / "resources").rglob("*") if p.is_file()}
    assert shipped and shipped <= placed
    # none of them is pruned again, and the cascade is the one detection.py loads
    assert not any(manifest.is_pruned(p) for p in placed)
    from app.recognition.detection import HAAR_CASCADE_FILE
    assert Path(manifest.haar_cascade_source()).name == HAAR_CASCADE_FILE


def test_bundle_data_files_fail_loudly_for_a_tree_without_models(tmp_path):
    (tmp_path / "resources").mkdir()
    missing = [src for src, _ in manifest.data_files(tmp_path) if not Path(src).is_file()]
    assert {Path(m).name for m in missing} == {"encoder.pt", "encoder.json", paths.YUNET_FILENAME,
                                                "YUNET_LICENSE"}


def _imported_top_modules() -> set[str]:
    names: set[str] = set()
    for py in (ROOT / "app").rglob("*.py"):
        for node in ast.walk(ast.parse(py.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
                names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def test_bundle_excludes_nothing_the_app_imports():
    excluded = set(manifest.excluded_modules())
    imported = _imported_top_modules()
    # imported lazily, only to train with a teacher: dlib's, and onnxruntime for EdgeFace, which the
    # bundle leaves out (teachers.runtime_available then offers Faceplugin through cv2.dnn only), and
    # onnx, read only to start a student from Faceplugin's weights (train --init faceplugin)
    teacher_only = {"dlib", "face_recognition_models", "onnxruntime", "onnx", "onnx.numpy_helper"}
    clash = {m for m in imported
             if any(m == e or m.startswith(e + ".") for e in excluded)} - teacher_only
    assert not clash, f"build.spec would leave out modules the app imports: {sorted(clash)}"
    for used in manifest.USED_QT_MODULES:
        assert f"PySide6.{used}" not in excluded
    used_qt = {m.split(".")[1] for m in imported if m.startswith("PySide6.Qt")}
    assert used_qt <= set(manifest.USED_QT_MODULES), used_qt
    for unwanted in ["PySide6.QtWebEngineCore", "PySide6.QtQml", "PySide6.QtQuick", "tkinter", "pytest"]:
        assert unwanted in excluded


def test_bundle_pruning_and_cuda_detection():
    for dest in ["torch/include/ATen/ATen.h", "torch/lib/libtorchbind_test.so", "torch/bin/protoc",
                 "torch/lib/libfoo.a", "PySide6/Qt/translations/qtbase_de.qm"]:
        assert manifest.is_pruned(dest), dest
    for dest in ["torch/lib/libtorch_cpu.so", "torch/_C.cpython-311-x86_64-linux-gnu.so",
                 "torch/bin/torch_shm_manager", "PySide6/Qt/plugins/platforms/libqxcb.so",
                 "PySide6/Qt/lib/libQt6Widgets.so.6", "cv2/data/haarcascade_frontalface_default.xml",
                 "models/encoder.pt", "torch/nn/modules/conv.py"]:
        assert not manifest.is_pruned(dest), dest
    toc = [("torch/lib/libtorch_cpu.so", "/x", "BINARY"), ("torch/lib/libc10_cuda.so", "/y", "BINARY"),
           ("nvidia/cudnn/lib/libcudnn.so.9", "/z", "BINARY"), ("torch\\lib\\cublas64_12.dll", "/w", "BINARY"),
           ("torch/backends/cudnn/__init__.py", "/v", "DATA")]
    assert manifest.cuda_libraries(toc) == ["nvidia/cudnn/lib/libcudnn.so.9", "torch/lib/libc10_cuda.so",
                                            "torch\\lib\\cublas64_12.dll"]
    assert [e[0] for e in manifest.prune(toc + [("torch/include/a.h", "/u", "DATA")])] == [e[0] for e in toc]
    assert manifest.is_stripped("torch/lib/libtorch_cpu.so") and not manifest.is_stripped("PySide6/Qt/lib/libQt6Core.so.6")


def test_build_spec_uses_the_manifest():
    spec = ROOT / "build.spec"
    tree = ast.parse(spec.read_text(encoding="utf-8"))  # valid Python
    calls = {f"{n.func.value.id}.{n.func.attr}" for n in ast.walk(tree)
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name)}
    assert {"manifest.data_files", "manifest.excluded_modules", "manifest.prune", "manifest.cuda_libraries"} <= calls
    builders = {n.func.id: n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert {"Analysis", "PYZ", "EXE", "COLLECT"} <= set(builders)
    exe_kw = {k.arg: k.value for k in builders["EXE"].keywords}
    assert isinstance(exe_kw["exclude_binaries"], ast.Constant) and exe_kw["exclude_binaries"].value is True  # one folder
    assert isinstance(exe_kw["console"], ast.Constant) and exe_kw["console"].value is True
    assert (ROOT / manifest.ENTRY_SCRIPT).is_file()
