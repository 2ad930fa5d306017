"""The settings pane: the τ slider over the calibration histogram, retraining, and the choice
of camera, detector and device."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen, QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.gui.figures import format_figures, model_figures, open_set_rule, open_set_text, verdict
from app.service import EngineInfo
from app.service.settings import RETRAIN_EPOCHS, default_folder

SLIDER_STEPS = 200      # slider units per 1.0 of distance
TAU_MAX = 2.0           # unit vectors are at most 2 apart

SAME_COLOUR = QColor(40, 170, 80, 170)
DIFF_COLOUR = QColor(220, 80, 60, 170)


def cuda_available() -> bool:
    try:
        import torch
        return bool(torch.cuda.is_available())
    except Exception:  # noqa: BLE001
        return False


def teacher_available() -> bool:
    """dlib's teacher is installed (the `teacher` extra; never in the bundle)."""
    return all(importlib.util.find_spec(m) is not None for m in ("dlib", "face_recognition_models"))


def teacher_choices() -> list[tuple[str, str | None]]:
    """(label, teacher name) for the Retrain pane, best first: the ONNX teachers found on this
    computer, dlib's when installed, and training from labels alone."""
    from app.service.training import available_teachers
    labels = {"edgeface": "EdgeFace-XS (non-commercial licence)", "faceplugin": "Faceplugin (MIT)"}
    out: list[tuple[str, str | None]] = [(labels[n], n) for n in available_teachers()]
    if teacher_available():
        out.append(("dlib ResNet (clean photos only)", "dlib"))
    out.append(("None: learn from the names alone", None))
    return out


class HistogramWidget(QWidget):
    """Same-person (green) and different-person (red) distance histograms and a τ line."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumHeight(130)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.calibration: dict = {}
        self.tau = 0.6

    def set_calibration(self, calibration: dict) -> None:
        self.calibration = calibration or {}
        self.update()

    def set_tau(self, tau: float) -> None:
        self.tau = tau
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(self.rect()).adjusted(6, 6, -6, -18)
        p.fillRect(self.rect(), self.palette().base())
        bins = self.calibration.get("bins")
        same = self.calibration.get("same_hist")
        diff = self.calibration.get("diff_hist")
        lo, hi = (float(bins[0]), float(bins[-1])) if bins else (0.0, TAU_MAX)

        def xpos(d: float) -> float:
            return r.left() + (d - lo) / (hi - lo) * r.width()

        if bins and same and diff:
            same_n = max(1, sum(same))
            diff_n = max(1, sum(diff))
            top = max(max(s / same_n for s in same), max(d / diff_n for d in diff)) or 1.0
            for hist, n, colour in ((diff, diff_n, DIFF_COLOUR), (same, same_n, SAME_COLOUR)):
                path = QPainterPath(QPointF(r.left(), r.bottom()))
                for i, c in enumerate(hist):
                    y = r.bottom() - (c / n) / top * r.height()
                    path.lineTo(xpos(bins[i]), y)
                    path.lineTo(xpos(bins[i + 1]), y)
                path.lineTo(r.right(), r.bottom())
                path.closeSubpath()
                p.fillPath(path, colour)
        else:
            p.setPen(self.palette().text().color())
            p.drawText(r, Qt.AlignmentFlag.AlignCenter,
                       "This model's card has no validation distances to draw.")
        p.setPen(QPen(self.palette().text().color(), 1))
        p.drawLine(QPointF(r.left(), r.bottom()), QPointF(r.right(), r.bottom()))
        for t in range(int(lo * 2), int(hi * 2) + 1):
            x = xpos(t / 2)
            p.drawText(QRectF(x - 15, r.bottom() + 2, 30, 14), Qt.AlignmentFlag.AlignCenter, f"{t / 2:g}")
        x = xpos(min(max(self.tau, lo), hi))
        p.setPen(QPen(QColor(40, 110, 255), 2))
        p.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom()))
        p.end()


# One plain sentence at the top of each section: what it does for the user, before the details.
ABOUT_THRESHOLD = ("How sure the app must be before it puts a name on a face: move the slider left "
                   "if strangers get names, right if people you enrolled stay \"Unknown\".")
ABOUT_RETRAIN = ("Teach the face model from your own photos so it tells your people apart better; "
                 "you compare it with the current model before using it, and can go back.")


def about_label(text: str) -> QLabel:
    label = QLabel(f"<b>{text}</b>")
    label.setWordWrap(True)
    return label


class ThresholdSection(QGroupBox):
    tau_changed = Signal(float)

    def __init__(self, parent=None):
        super().__init__("Match threshold τ", parent)
        self.calibrated_tau: float | None = None
        self.calibration: dict = {}
        self.rule = None            # the model's OpenSetRule, parsed once per model
        self.enrolled = 0           # samples in the gallery: the automatic τ depends on it
        self.automatic = True       # τ follows the model's open-set rule (no fixed τ chosen)
        self.domain_delta = 0.0     # how much stricter this camera's faces make it (Engine.domain_shift)
        lay = QVBoxLayout(self)
        self.about = about_label(ABOUT_THRESHOLD)
        lay.addWidget(self.about)
        intro = QLabel("A face is named when its distance to an enrolled person is under τ. "
                       "Lower τ: fewer strangers named, more \"Unknown\". By default τ is set "
                       "for the number of people enrolled, so that about 1% of strangers get a name.")
        intro.setWordWrap(True)
        lay.addWidget(intro)
        self.histogram = HistogramWidget()
        lay.addWidget(self.histogram)
        legend = QLabel('<span style="color:#28aa50">■</span> same person  '
                        '<span style="color:#dc503c">■</span> different people  '
                        '<span style="color:#286eff">|</span> τ')
        lay.addWidget(legend)
        row = QHBoxLayout()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, int(TAU_MAX * SLIDER_STEPS))
        self.slider.setSingleStep(1)
        self.slider.setPageStep(10)
        self.slider.setToolTip("τ (Ctrl+Up / Ctrl+Down)")
        self.value_label = QLabel("")
        self.value_label.setMinimumWidth(50)
        row.addWidget(self.slider, 1)
        row.addWidget(self.value_label)
        lay.addLayout(row)
        self.rates_label = QLabel("")
        self.rates_label.setWordWrap(True)
        lay.addWidget(self.rates_label)
        self.mode_label = QLabel("")
        self.mode_label.setWordWrap(True)
        lay.addWidget(self.mode_label)
        self.domain_label = QLabel("")  # what the camera's faces did to the automatic τ (Engine.domain_text)
        self.domain_label.setWordWrap(True)
        lay.addWidget(self.domain_label)
        self.reset_button = QPushButton("Reset to &automatic")
        self.reset_button.clicked.connect(self.reset_to_calibrated)
        lay.addWidget(self.reset_button, 0, Qt.AlignmentFlag.AlignLeft)
        # the camera sample (app.live.domain): taught from a folder, or forgotten for a new camera
        # one per row: side by side they would make the narrow pane scroll sideways
        self.learn_camera_button = QPushButton("Learn from this camera's photos…")
        self.learn_camera_button.setToolTip("A folder of photos taken with this camera (anyone in them): the "
                                            "automatic τ learns how alike its strangers look, without waiting "
                                            "for the live view to see them.")
        lay.addWidget(self.learn_camera_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.forget_camera_button = QPushButton("Forget this camera's faces")
        self.forget_camera_button.setToolTip("The automatic τ goes back to the validation people and your "
                                             "enrolled photos; the camera's faces are learned again as it sees them.")
        lay.addWidget(self.forget_camera_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.slider.valueChanged.connect(self._slider_moved)
        self.setEnabled(False)

    @property
    def tau(self) -> float:
        return self.slider.value() / SLIDER_STEPS

    def set_model(self, calibrated_tau: float, calibration: dict, current_tau: float | None,
                  open_set: dict | None = None, enrolled: int | None = None) -> None:
        """A model's calibration; `current_tau` None: the automatic (open-set) τ."""
        self.calibrated_tau = calibrated_tau
        self.calibration = calibration or {}
        self.rule = open_set_rule(open_set)
        if enrolled is not None:
            self.enrolled = int(enrolled)
        self.histogram.set_calibration(self.calibration)
        self.setEnabled(True)
        self.automatic = current_tau is None
        self.set_tau(self.automatic_tau() if current_tau is None else current_tau, emit=False)

    def automatic_tau(self) -> float:
        """The τ the model's rule gives for the gallery enrolled now (its one-to-one τ without one)."""
        if self.rule is None:
            return float(self.calibrated_tau if self.calibrated_tau is not None else 0.6)
        return self.rule.threshold(max(1, self.enrolled)) - self.domain_delta

    def set_domain(self, delta: float, text: str) -> None:
        """The engine's camera sample made the automatic τ stricter by `delta` (said in `text`)."""
        self.domain_delta = max(0.0, float(delta))
        self.domain_label.setText(text[:1].upper() + text[1:])
        if self.automatic and self.isEnabled():
            self.set_tau(self.automatic_tau(), emit=False)
        self.domain_label.setVisible(self.automatic and bool(text))
        self.forget_camera_button.setVisible(self.automatic and bool(text))

    def set_enrolled(self, samples: int) -> None:
        """The gallery changed: the estimates (and the automatic τ) follow it."""
        self.enrolled = int(samples)
        if self.automatic and self.isEnabled():
            self.set_tau(self.automatic_tau(), emit=False)
        else:
            self._show(self.tau)

    def set_tau(self, tau: float, emit: bool = True) -> None:
        value = int(round(min(max(tau, 0.0), TAU_MAX) * SLIDER_STEPS))
        if not emit:
            self.slider.blockSignals(True)
        self.slider.setValue(value)
        self.slider.blockSignals(False)
        self._show(tau)

    def _show(self, tau: float) -> None:
        self.value_label.setText(f"{tau:.3f}")
        self.histogram.set_tau(tau)
        self.rates_label.setText(open_set_text(self.calibration, self.rule, tau, self.enrolled, self.automatic,
                                                      self.domain_delta))
        if self.automatic:
            self.mode_label.setText("Automatic: τ follows the number of people enrolled"
                                    + (" and the faces this camera has seen." if self.domain_delta else "."))
        else:
            self.mode_label.setText(f"Fixed τ {tau:.3f}, chosen by you: it stays when people are added.")
        self.reset_button.setEnabled(not self.automatic)
        self.domain_label.setVisible(self.automatic and bool(self.domain_label.text()))  # a fixed τ is yours
        self.forget_camera_button.setVisible(self.domain_label.isVisibleTo(self))

    def _slider_moved(self, value: int) -> None:
        tau = value / SLIDER_STEPS
        self.automatic = False
        self._show(tau)
        self.tau_changed.emit(tau)

    def reset_to_calibrated(self) -> None:
        """Back to the automatic τ; the window tells the engine (no τ_changed: nothing fixed)."""
        self.automatic = True
        self.set_tau(self.automatic_tau(), emit=False)


class LossCurve(QWidget):
    """Running training loss against step."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumHeight(110)
        self.points: list[tuple[int, float]] = []

    def clear(self) -> None:
        self.points = []
        self.update()

    def add(self, step: int, loss: float) -> None:
        self.points.append((step, loss))
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), self.palette().base())
        r = QRectF(self.rect()).adjusted(30, 6, -6, -6)
        p.setPen(self.palette().text().color())
        if len(self.points) < 2:
            p.drawText(r, Qt.AlignmentFlag.AlignCenter, "loss curve")
            p.end()
            return
        xs = [s for s, _ in self.points]
        ys = [v for _, v in self.points]
        x0, x1 = min(xs), max(xs) or 1
        y0, y1 = min(ys), max(ys)
        if y1 - y0 < 1e-9:
            y1 = y0 + 1e-3
        p.drawText(QRectF(0, r.top() - 4, 30, 14), Qt.AlignmentFlag.AlignLeft, f"{y1:.2f}")
        p.drawText(QRectF(0, r.bottom() - 10, 30, 14), Qt.AlignmentFlag.AlignLeft, f"{y0:.2f}")
        path = QPainterPath()
        for i, (s, v) in enumerate(self.points):
            pt = QPointF(r.left() + (s - x0) / max(1, x1 - x0) * r.width(),
                         r.bottom() - (v - y0) / (y1 - y0) * r.height())
            path.moveTo(pt) if i == 0 else path.lineTo(pt)
        p.setPen(QPen(QColor(40, 110, 255), 2))
        p.drawPath(path)
        p.end()


class RetrainSection(QGroupBox):
    """Dataset folders, epochs, device; progress, loss curve, Cancel; before/after; activate."""

    activate_requested = Signal(str)   # path of the new weights
    rollback_requested = Signal()
    message = Signal(str)
    inputs_changed = Signal()          # the folders or the epochs changed (the window remembers them)

    def __init__(self, parent=None):
        super().__init__("Retrain the face model", parent)
        self.worker = None
        # set by the window: fn(on_folder, on_error), runs on the engine
        self.export_people: Callable[[Callable[[str], None], Callable[[str], None]], None] | None = None
        self.folder_memory = None  # set by the window: start_folder(kind) / remember_folder(kind, path)
        self.checkpoint: Path | None = None  # an interrupted run's checkpoint that Resume continues
        self.result = None
        self.current_info: EngineInfo | None = None  # the active model (None: no engine yet)
        self.verdict: tuple[str, str] = ("", "")
        self.last_outcome = ""     # "done", "cancelled", "failed"
        lay = QVBoxLayout(self)
        self.about = about_label(ABOUT_RETRAIN)
        lay.addWidget(self.about)
        intro = QLabel("Dataset folders (one sub-folder of photos per person):")
        intro.setWordWrap(True)
        lay.addWidget(intro)
        self.folders = QListWidget()
        self.folders.setMaximumHeight(80)
        # a long path is shortened in the middle (whole in its tooltip): no sideways scrolling
        self.folders.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.folders.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        lay.addWidget(self.folders)
        row = QHBoxLayout()
        add = QPushButton("Add folder…")
        add.clicked.connect(self._pick_folder)
        self.add_folder_button = add
        rem = QPushButton("Remove")
        rem.clicked.connect(self._remove_selected_folders)
        self.remove_folder_button = rem
        row.addWidget(add)
        row.addWidget(rem)
        row.addStretch(1)
        lay.addLayout(row)
        form = QFormLayout()
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 500)
        self.epochs.setValue(RETRAIN_EPOCHS)
        self.epochs.valueChanged.connect(lambda _v: self.inputs_changed.emit())
        form.addRow("Epochs:", self.epochs)
        self.members = QSpinBox()
        self.members.setRange(1, 5)
        self.members.setValue(1)
        self.members.setToolTip("Networks trained one after another and averaged (three: about 2 points of rank-1): "
                                "each one adds the training time again and slows recognition")
        form.addRow("Networks:", self.members)
        self.max_images = QSpinBox()
        self.max_images.setRange(0, 10_000_000)
        self.max_images.setSpecialValueText("all")
        self.max_images.setValue(0)
        form.addRow("Images at most:", self.max_images)
        self.device = QComboBox()
        self.device.addItem("CPU", "cpu")
        self.device.addItem("CUDA", "cuda")
        if not cuda_available():
            cast(QStandardItemModel, self.device.model()).item(1).setEnabled(False)
            self.device.setItemData(1, "No CUDA device on this computer", Qt.ItemDataRole.ToolTipRole)
        else:
            self.device.setCurrentIndex(1)
        form.addRow("Device:", self.device)
        self.teacher = QComboBox()
        for label, name in teacher_choices():
            self.teacher.addItem(label, name)
            self.teacher.setItemData(self.teacher.count() - 1, label, Qt.ItemDataRole.ToolTipRole)
        # a narrow side panel shortens the choice shown (the list shows it whole): no sideways scrolling
        self.teacher.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.teacher.setMinimumContentsLength(14)
        self.teacher.setToolTip("The network the new model learns to copy. An ONNX teacher sees every changed view "
                                "of every face; without one the model learns from the folder names only.")
        form.addRow("Teacher:", self.teacher)
        self.fine_tune = QCheckBox("Fine-tune the active model")
        self.fine_tune.setToolTip("Keeps what the active model knows and adjusts it to these folders; off: a new "
                                  "model from scratch, which needs many more people and epochs")
        self.fine_tune.setChecked(True)
        form.addRow("", self.fine_tune)
        self.include_people = QCheckBox("Add the enrolled people")
        self.include_people.setToolTip("Train on the photos of the people enrolled here too")
        form.addRow("", self.include_people)
        self.calibrate = QCheckBox("Calibrate on LFW (slow)")
        self.calibrate.setToolTip("τ from LFW's training pairs; the cohort and the strangers-named table from "
                                  "LFW's validation people, if none of them is in the training folders")
        self.lfw_dir = _find_lfw()
        self.calibrate.setEnabled(self.lfw_dir is not None)
        self.calibrate.setChecked(False)
        form.addRow("", self.calibrate)
        lay.addLayout(form)
        row = QHBoxLayout()
        self.start_button = QPushButton("&Start training")
        self.start_button.clicked.connect(lambda: self.start())
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        row.addWidget(self.start_button)
        row.addWidget(self.cancel_button)
        row.addStretch(1)
        lay.addLayout(row)
        # an interrupted or cancelled run can be continued where its last finished epoch left it
        self.resume_box = QFrame()
        rlay = QVBoxLayout(self.resume_box)
        rlay.setContentsMargins(0, 0, 0, 0)
        self.resume_label = QLabel("")
        self.resume_label.setWordWrap(True)
        rlay.addWidget(self.resume_label)
        rrow = QHBoxLayout()
        self.resume_button = QPushButton("&Resume")
        self.resume_button.setToolTip("Continue the interrupted training from its last finished epoch, "
                                      "with the folders and settings it was started with")
        self.resume_button.clicked.connect(self.resume)
        self.discard_button = QPushButton("Discard")
        self.discard_button.setToolTip("Delete the interrupted training's checkpoint")
        self.discard_button.clicked.connect(self._discard)
        rrow.addWidget(self.resume_button)
        rrow.addWidget(self.discard_button)
        rrow.addStretch(1)
        rlay.addLayout(rrow)
        lay.addWidget(self.resume_box)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        lay.addWidget(self.progress)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        self.curve = LossCurve()
        lay.addWidget(self.curve)
        figs = QHBoxLayout()
        self.before_label = QLabel("")
        self.after_label = QLabel("")
        for lab in (self.before_label, self.after_label):
            lab.setWordWrap(True)
            lab.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            figs.addWidget(lab, 1)
        lay.addLayout(figs)
        row = QHBoxLayout()
        self.activate_button = QPushButton("&Activate new model")
        self.activate_button.setEnabled(False)
        self.activate_button.clicked.connect(self._activate)
        self.rollback_button = QPushButton("Roll &back")
        self.rollback_button.setToolTip("Go back to the model that was active before the last activation")
        self.rollback_button.setEnabled(False)
        self.rollback_button.clicked.connect(lambda: self.rollback_requested.emit())
        row.addWidget(self.activate_button)
        row.addWidget(self.rollback_button)
        row.addStretch(1)
        lay.addLayout(row)
        self.find_checkpoint()

    # ---- inputs -----------------------------------------------------------------------------
    def _pick_folder(self) -> None:
        start = self.folder_memory.start_folder("dataset") if self.folder_memory else str(default_folder())
        path = QFileDialog.getExistingDirectory(self, "Dataset folder", str(start))
        if path:
            if self.folder_memory:
                self.folder_memory.remember_folder("dataset", path, parent=True)
            self.add_folder(path)

    def add_folder(self, path: str | Path) -> None:
        if str(path) in self.folder_list():
            return
        self.folders.addItem(str(path))
        self.folders.item(self.folders.count() - 1).setToolTip(str(path))
        self.inputs_changed.emit()

    def _remove_selected_folders(self) -> None:
        for item in self.folders.selectedItems():
            self.folders.takeItem(self.folders.row(item))
        self.inputs_changed.emit()

    def set_inputs(self, folders: list[str], epochs: int | None) -> None:
        """The folders and epochs remembered from last time (no inputs_changed: nothing new)."""
        self.blockSignals(True)
        try:
            self.folders.clear()
            for f in folders:
                if f not in self.folder_list():
                    self.folders.addItem(f)
                    self.folders.item(self.folders.count() - 1).setToolTip(f)
            if epochs:
                self.epochs.setValue(int(epochs))
        finally:
            self.blockSignals(False)

    def folder_list(self) -> list[str]:
        return [self.folders.item(i).text() for i in range(self.folders.count())]

    def set_current_model(self, info: EngineInfo, previous_available: bool) -> None:
        new_model = self.current_info is None or self.current_info.encoder != info.encoder
        self.current_info = info
        self.rollback_button.setEnabled(previous_available)
        members = (info.training.get("config") or {}).get("members", 1)
        can_tune = bool(info.model_path) and members == 1
        self.fine_tune.setEnabled(can_tune)
        self.fine_tune.setToolTip(self.fine_tune.toolTip() if can_tune else
                                  "The active model averages several networks: a retrained model starts afresh")
        if not self.running:
            self.before_label.setText("Current model:\n" + format_figures(model_figures(info)))
            from app.service.training import model_teacher
            own = model_teacher(info.training)
            if new_model and own is not None and self.teacher.findData(own) >= 0:
                # a newly active model: offer its own teacher (model_teacher says why); a choice the
                # user made stays while the same model is active
                self.teacher.setCurrentIndex(self.teacher.findData(own))

    def make_config(self):
        from app.service.training import retrain_config
        tune = self.fine_tune.isEnabled() and self.fine_tune.isChecked() and self.members.value() == 1
        return retrain_config(self.folder_list(), epochs=self.epochs.value(), members=self.members.value(),
                              device=self.device.currentData(), teacher=self.teacher.currentData(),
                              fine_tune=tune, active=self.current_info,
                              max_images=self.max_images.value() or None,
                              calibrate_lfw=self.lfw_dir if self.calibrate.isChecked() else None)

    # ---- running ----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.worker is not None and self.worker.isRunning()

    def start(self, config=None) -> None:
        if self.running:
            return
        if config is None:
            export = self.export_people
            people = self.include_people.isChecked() and export is not None
            if not self.folder_list() and not people:
                self.status.setText("Add a dataset folder or include the enrolled people first.")
                return
            config = self.make_config()
            if people and export is not None:
                self.start_button.setEnabled(False)
                self.status.setText("Collecting the enrolled people's photos…")

                def go(folder: str) -> None:
                    config.datasets.append(folder)
                    self._launch(config)

                def fail(message: str) -> None:
                    self._ended("failed", message)

                export(go, fail)
                return
        self._launch(config)

    def find_checkpoint(self) -> Path | None:
        """Offer Resume when an interrupted run left a checkpoint (and no model) in the user's
        model folder; the newest one if there are several."""
        self.checkpoint = interrupted_checkpoint()
        if self.checkpoint is not None:
            try:
                saved = self.checkpoint.stat().st_mtime
            except OSError:  # deleted meanwhile
                saved = time.time()
            when = time.strftime("%d %b %Y %H:%M", time.localtime(saved))
            self.resume_label.setText(f"A training run was interrupted (last saved {when.lstrip('0')}). "
                                      "Resume continues it from its last finished epoch.")
        self.resume_box.setVisible(self.checkpoint is not None)
        self.resume_button.setEnabled(self.checkpoint is not None and not self.running)
        self.discard_button.setEnabled(self.checkpoint is not None and not self.running)
        return self.checkpoint

    def resume(self) -> None:
        """Continue the interrupted run: `training.loop.train(cfg, resume=True)` with its saved config."""
        if self.running or self.checkpoint is None:
            return
        self._launch(None, resume_from=str(self.checkpoint))

    def confirm_discard(self) -> bool:
        answer = QMessageBox.question(self, "Discard interrupted training",
                                      "Delete the interrupted training's checkpoint? It cannot be resumed then.",
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def _discard(self) -> None:
        if self.running or self.checkpoint is None or not self.confirm_discard():
            return
        try:
            self.checkpoint.unlink(missing_ok=True)
        except OSError as exc:
            self.message.emit(f"The checkpoint could not be deleted: {exc}")
        self.find_checkpoint()

    def _launch(self, config, resume_from: str | None = None) -> None:
        from app.gui.workers import TrainingWorker

        self.result = None
        self.last_outcome = ""
        self.curve.clear()
        self.after_label.setText("")
        self.activate_button.setEnabled(False)
        self.progress.setRange(0, 0)
        self.status.setText("Resuming the interrupted training…" if resume_from else "Starting…")
        self.worker = TrainingWorker(config, self, resume_from=resume_from,
                                     active_weights=self.current_info.model_path if self.current_info else None)
        self.worker.progress.connect(self._progress)
        self.worker.loss.connect(self.curve.add)
        self.worker.epoch.connect(lambda st: self.status.setText(
            f"Epoch {st.epoch} done: loss {st.loss:.4f} ({st.seconds:.0f} s)"))
        self.worker.finished_ok.connect(self._finished)
        self.worker.cancelled.connect(lambda m: self._ended("cancelled", m))
        self.worker.failed.connect(lambda m: self._ended("failed", m))
        self.start_button.setEnabled(False)
        self.resume_button.setEnabled(False)
        self.discard_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.worker.start()

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.status.setText("Cancelling…")
            self.cancel_button.setEnabled(False)

    def stop_and_wait(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.worker.wait()

    def _progress(self, done: int, total: int, message: str) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))
        self.status.setText(message)

    def _ended(self, outcome: str, message: str) -> None:
        self.last_outcome = outcome
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        # the training module speaks to the command line; here the button continues
        message = (message.replace("(continue with --resume)", "(Resume continues it)")
                   .replace("(--resume calibrates", "(Resume calibrates"))
        self.status.setText(message)
        self.message.emit(message)
        if self.worker is not None:
            self.worker.finished.connect(self.find_checkpoint)  # once its thread has returned
        self.find_checkpoint()

    def _finished(self, result) -> None:
        self.result = result
        card = result.card
        from app.service.training import forget_checkpoint
        forget_checkpoint(result.path)  # the model is saved: its checkpoint can no longer be resumed
        self._ended("done", f"Training finished: {result.path}")
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        before, after = model_figures(self.current_info), model_figures(card)
        self.verdict = verdict(before, after, (card.training or {}).get("held_out_check"))
        self.before_label.setText("Before (current model):\n" + format_figures(before))
        self.after_label.setText("After (new model):\n" + format_figures(after))
        self.status.setText(f"Training finished: {Path(result.path).name}\n{self.verdict[1]}")
        self.status.setToolTip(str(result.path))
        self.activate_button.setEnabled(True)

    def confirm_activation(self, reason: str) -> bool:
        """Activating a worse, uncalibrated or unchecked (check cancelled) model needs a yes."""
        answer = QMessageBox.question(self, "Activate new model", f"{reason}\n\nActivate it anyway?",
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def _activate(self) -> None:
        if self.result is None:
            return
        word, reason = self.verdict
        if word in ("worse", "uncalibrated", "skipped") and not self.confirm_activation(reason):
            return
        self.activate_requested.emit(str(self.result.path))
        self.activate_button.setEnabled(False)


def interrupted_checkpoint() -> Path | None:
    """The newest checkpoint (`<out>.ckpt`, see `training.loop.checkpoint_path`) in the user's model
    folder whose run never saved its model; None when there is none."""
    from app import paths
    try:
        found = [c for c in paths.user_models_dir().glob("*.ckpt")
                 if c.is_file() and not c.with_suffix(".pt").exists()]
        return max(found, key=lambda c: c.stat().st_mtime) if found else None
    except OSError:
        return None


def _find_lfw() -> str | None:
    from app import paths
    return paths.lfw_dir(must_exist=True)


class SourceSection(QGroupBox):
    """Camera / file / stream, detector and device."""

    source_requested = Signal(str)
    engine_options_changed = Signal(object, object)  # detector, device (None = automatic)

    def __init__(self, parent=None):
        super().__init__("Camera, detector and device", parent)
        self.folder_memory = None  # set by the window (see RetrainSection)
        form = QFormLayout(self)
        self.camera = QComboBox()
        for i in range(4):
            self.camera.addItem(f"Camera {i}", str(i))
        self.camera.addItem("Other (file, folder or stream)…", None)
        form.addRow("Source:", self.camera)
        row = QHBoxLayout()
        self.source_edit = QLineEdit()
        self.source_edit.setPlaceholderText("camera number, video file, photo folder or rtsp://…")
        browse = QPushButton("File…")
        browse.clicked.connect(self._browse)
        self.apply_source = QPushButton("Use this source")
        self.apply_source.clicked.connect(lambda: self.source_requested.emit(self.source_edit.text().strip()))
        row.addWidget(self.source_edit, 1)
        row.addWidget(browse)
        form.addRow("", row)
        form.addRow("", self.apply_source)
        self.camera.activated.connect(self._camera_picked)
        self.detector = QComboBox()
        self.detector.addItem("Automatic (YuNet if installed)", None)
        self.detector.addItem("YuNet", "yunet")
        self.detector.addItem("Haar cascade (fast, less accurate)", "haar")
        form.addRow("Detector:", self.detector)
        self.device = QComboBox()
        self.device.addItem("Automatic", None)
        self.device.addItem("CPU", "cpu")
        self.device.addItem("CUDA", "cuda")
        if not cuda_available():
            cast(QStandardItemModel, self.device.model()).item(2).setEnabled(False)
            self.device.setItemData(2, "No CUDA device on this computer", Qt.ItemDataRole.ToolTipRole)
        form.addRow("Device:", self.device)
        self.apply_engine = QPushButton("Apply detector and device")
        self.apply_engine.clicked.connect(
            lambda: self.engine_options_changed.emit(self.detector.currentData(), self.device.currentData()))
        form.addRow("", self.apply_engine)

    def _camera_picked(self, index: int) -> None:
        data = self.camera.itemData(index)
        if data is not None:
            self.source_edit.setText(data)
            self.source_requested.emit(data)
        else:
            self.source_edit.setFocus()

    def _browse(self) -> None:
        start = self.folder_memory.start_folder("video") if self.folder_memory else str(default_folder())
        path, _ = QFileDialog.getOpenFileName(self, "Video file", str(start))
        if path:
            if self.folder_memory:
                self.folder_memory.remember_folder("video", path)
            self.source_edit.setText(path)
            self.source_requested.emit(path)

    def show_current(self, source: str, detector: str | None, device: str | None) -> None:
        self.source_edit.setText(source)
        idx = self.camera.findData(source)
        self.camera.setCurrentIndex(idx if idx >= 0 else self.camera.count() - 1)
        self.detector.setCurrentIndex(max(0, self.detector.findData(detector)))
        self.device.setCurrentIndex(max(0, self.device.findData(device)))


class SettingsPane(QTabWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.threshold = ThresholdSection()
        self.retrain = RetrainSection()
        self.source = SourceSection()
        for widget, title in ((self.threshold, "&Threshold"), (self.retrain, "Re&train"),
                              (self.source, "&Camera && devices")):
            page = QWidget()
            lay = QVBoxLayout(page)
            lay.addWidget(widget)
            lay.addStretch(1)
            scroll = QScrollArea()  # a small screen scrolls the tab instead of growing the window
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QFrame.Shape.NoFrame)
            scroll.setWidget(page)
            self.addTab(scroll, title)
