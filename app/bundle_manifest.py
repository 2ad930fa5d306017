"""What the PyInstaller bundle (`build.spec`) carries and leaves out, kept here so tests can check it.

The data files are read at run time through `app.paths.resource_root()` (the bundle's folder,
`sys._MEIPASS`), so they go to the same relative places as in the repository: `models/`,
`resources/`, and OpenCV's Haar cascade in `cv2/data/` where `app.recognition.detection` looks for it.
Everything the app writes goes to the user's data folder, never here.

The rest keeps the bundle small: Python packages the app never imports (tests, dev tools, the
dlib teacher, Qt modules other than Core/Gui/Widgets) are excluded from the analysis, and files
no program needs at run time (C++ headers, static libraries, torch's test programs and its
copy of protoc, Qt translations the app does not load) are pruned from what the hooks collect.
A CPU build must not carry CUDA libraries; `cuda_libraries()` names any that slipped in.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path, PurePosixPath
from typing import Iterable

ROOT = Path(__file__).resolve().parent.parent
NAME = "oneshot-face"
ENTRY_SCRIPT = "app/__main__.py"

SHIPPED_MODEL_FILES = ("models/encoder.pt", "models/encoder.json",
                       "models/face_detection_yunet_2026may.onnx", "models/YUNET_LICENSE")
RESOURCES_DIR = "resources"

# Python packages the app never imports at run time (some are installed for tests or the teacher).
EXCLUDED_MODULES = (
    "tkinter", "_tkinter", "turtle", "idlelib", "pydoc_data", "lib2to3", "ensurepip", "venv",
    "matplotlib", "IPython", "jupyter_client", "ipykernel", "notebook", "pandas", "scipy",
    "dlib", "_dlib_pybind11", "face_recognition", "face_recognition_models",
    "pytest", "_pytest", "pytestqt", "pluggy", "iniconfig", "py",
    "setuptools", "pkg_resources", "_distutils_hack", "distutils", "pip", "wheel",
    "PyInstaller", "_pyinstaller_hooks_contrib",
    "torchvision", "torchaudio", "triton", "tensorboard", "torch.utils.tensorboard",
    "onnx", "onnxruntime", "onnxscript",
)

# The app uses QtCore, QtGui and QtWidgets only (see `grep -r PySide6 app`).
UNUSED_QT_MODULES = (
    "Qt3DAnimation", "Qt3DCore", "Qt3DExtras", "Qt3DInput", "Qt3DLogic", "Qt3DRender",
    "QtAxContainer", "QtBluetooth", "QtCharts", "QtConcurrent", "QtDataVisualization", "QtDBus",
    "QtDesigner", "QtGraphs", "QtGraphsWidgets", "QtHelp", "QtHttpServer", "QtLabsStyleKit",
    "QtLocation", "QtMultimedia", "QtMultimediaWidgets", "QtNetwork", "QtNetworkAuth", "QtNfc",
    "QtOpenGL", "QtOpenGLWidgets", "QtPdf", "QtPdfWidgets", "QtPositioning", "QtPrintSupport",
    "QtQml", "QtQmlFeatures", "QtQuick", "QtQuick3D", "QtQuickControls2", "QtQuickTest",
    "QtQuickWidgets", "QtRemoteObjects", "QtScxml", "QtSensors", "QtSerialBus", "QtSerialPort",
    "QtSpatialAudio", "QtSql", "QtStateMachine", "QtSvg", "QtSvgWidgets", "QtTest",
    "QtTextToSpeech", "QtUiTools", "QtWebChannel", "QtWebEngineCore", "QtWebEngineQuick",
    "QtWebEngineWidgets", "QtWebSockets", "QtWebView", "QtXml",
)
USED_QT_MODULES = ("QtCore", "QtGui", "QtWidgets")

# Bundle paths (as PyInstaller names them, "/"-separated) that nothing loads at run time.
PRUNED_PATTERNS = (
    "torch/include/*", "torch/share/*", "torch/test/*", "torch/bin/*",
    "torch/lib/*test*", "torch/lib/libbackend_with_compiler*", "torch/lib/libaoti_custom_ops*",
    "torch/lib/*.a", "torch/lib/*.lib",
    "*.h", "*.hpp", "*.cuh", "*.cmake", "*.a", "*.pyi",
    "PySide6/Qt/translations/*", "PySide6/translations/*",
    "PySide6/include/*", "PySide6/typesystems/*", "PySide6/glue/*", "PySide6/doc/*",
    # Qt's VNC-server platform and TUIO network touch input: the only users of QtNetwork (Linux)
    "PySide6/Qt/plugins/platforms/libqvnc.so", "PySide6/Qt/plugins/generic/libqtuiotouchplugin.so",
    "PySide6/Qt/lib/libQt6Network.so*",
    "cv2/include/*",
)

KEPT = ("torch/bin/torch_shm_manager",)  # torch.multiprocessing's helper, if a build ships it

# Shared libraries of a CUDA build (torch's own and NVIDIA's), on Linux and Windows.
CUDA_PATTERNS = (
    "*libcuda*", "*cudart*", "*cublas*", "*cudnn*", "*cufft*", "*curand*", "*cusolver*",
    "*cusparse*", "*nccl*", "*nvrtc*", "*nvtoolsext*", "*nvjitlink*", "*cupti*", "*cufile*",
    "*torch_cuda*", "*c10_cuda*", "*caffe2_nvrtc*", "nvidia/*", "triton/*",
)


# Libraries build.spec strips of their symbol tables on Linux (torch's are shipped unstripped).
STRIPPED_PATTERNS = ("torch/lib/libtorch_cpu.so*", "torch/lib/libtorch_python.so*", "torch/lib/libtorch.so*",
                     "torch/lib/libc10.so*", "torch/_C*.so")


def haar_cascade_source() -> Path:
    """OpenCV's frontal-face cascade in the installed cv2 package."""
    import cv2.data

    from app.recognition.detection import HAAR_CASCADE_FILE
    return Path(cv2.data.haarcascades) / HAAR_CASCADE_FILE


def data_files(root: str | os.PathLike = ROOT) -> list[tuple[str, str]]:
    """`(source file, folder inside the bundle)` pairs, as PyInstaller's `datas` wants them."""
    root = Path(root)
    pairs = [(str(root / f), str(PurePosixPath(f).parent)) for f in SHIPPED_MODEL_FILES]
    resources = root / RESOURCES_DIR
    pairs += [(str(p), str(PurePosixPath(RESOURCES_DIR, p.parent.relative_to(resources).as_posix())))
              for p in sorted(resources.rglob("*")) if p.is_file()]
    pairs.append((str(haar_cascade_source()), "cv2/data"))
    return pairs


def excluded_modules() -> list[str]:
    return [*EXCLUDED_MODULES, *(f"PySide6.{m}" for m in UNUSED_QT_MODULES)]


def _norm(dest: str) -> str:
    return dest.replace("\\", "/")


def _matches(dest: str, patterns: Iterable[str]) -> bool:
    d = _norm(dest)
    base = d.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(d, p) or fnmatch.fnmatchcase(base.lower(), p.lower()) for p in patterns)


def is_pruned(dest: str) -> bool:
    """Whether a collected file (its path inside the bundle) is left out."""
    d = _norm(dest)
    if d.startswith(("models/", "resources/", "cv2/data/")) or d in KEPT:
        return False  # the app's own data files are never pruned
    return any(fnmatch.fnmatchcase(d, p) for p in PRUNED_PATTERNS)


def is_shared_library(dest: str) -> bool:
    base = _norm(dest).rsplit("/", 1)[-1].lower()
    return base.endswith((".so", ".dll", ".dylib", ".pyd")) or ".so." in base


def is_cuda_library(dest: str) -> bool:
    return is_shared_library(dest) and _matches(dest, CUDA_PATTERNS)


def prune(toc: Iterable[tuple]) -> list[tuple]:
    """A PyInstaller TOC (entries `(dest, source, typecode)`) without the pruned files."""
    return [entry for entry in toc if not is_pruned(entry[0])]


def is_stripped(dest: str) -> bool:
    return any(fnmatch.fnmatchcase(_norm(dest), p) for p in STRIPPED_PATTERNS)


def cuda_libraries(toc: Iterable[tuple]) -> list[str]:
    return sorted(entry[0] for entry in toc if is_cuda_library(entry[0]))
