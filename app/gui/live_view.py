"""The live view: the newest analysed frame with a box per face, the steadied name and the
distance; known faces green, unknown orange. A message replaces the picture when the source is
missing or failing. In "pick" mode (enrol from snapshot) a click chooses a face."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.gui.label_layout import place_labels


def label_width(fm: QFontMetricsF, text: str) -> float:
    """Whole pixels the text needs: Qt lays text out with fractional advances, so a width rounded
    down (QFontMetrics' int advance) cuts "Unknown" to "Unkno…" at some font sizes."""
    return float(math.ceil(fm.horizontalAdvance(text)))


def fitted_text(fm: QFontMetricsF, text: str, width: float) -> str:
    """The text as drawn in `width` pixels: whole when it fits, else cut with "…"."""
    return text if label_width(fm, text) <= width else fm.elidedText(text, Qt.TextElideMode.ElideRight, width)

KNOWN_COLOUR = QColor(40, 200, 90)
UNKNOWN_COLOUR = QColor(255, 140, 0)
SELECTED_COLOUR = QColor(60, 150, 255)


PAUSED_TEXT = "❚❚ Paused: Space to resume"

# Shown over the video while the gallery is empty: a bare video with "Unknown" everywhere does not
# tell a newcomer what to do next.
FIRST_RUN_TEXT = ("No one is enrolled yet, so every face is \"Unknown\". To teach the app a face: "
                  "File ▸ Enrol from snapshot (Ctrl+E) picks a face in this video, "
                  "File ▸ Enrol from photo (Ctrl+O) uses a picture, or name a face "
                  "in the Recent faces tab.")


def qimage_from_rgb(rgb: np.ndarray) -> QImage:
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    img = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return img.copy()  # own the pixels: the array may go away


class ImageWithBoxes(QWidget):
    """Draws an RGB image scaled to fit, with labelled boxes in image coordinates."""

    face_clicked = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 180)
        self._image: QImage | None = None
        self._size = (0, 0)
        # (box, text, colour)
        self._boxes: list[tuple[tuple[float, float, float, float], str, QColor]] = []
        self.message = ""
        self.hint = ""  # a band at the top (the first-run help); a message goes below it
        self.paused = False
        self.selected: int | None = None
        self.clickable = False
        self.label_rects: list[tuple[float, float, float, float]] = []  # as last drawn

    def set_image(self, rgb: np.ndarray | None) -> None:
        if rgb is None:
            self._image = None
            self._size = (0, 0)
        else:
            self._image = qimage_from_rgb(rgb)
            self._size = (rgb.shape[1], rgb.shape[0])
        self.update()

    def set_boxes(self, boxes) -> None:
        self._boxes = list(boxes)
        self.update()

    def set_message(self, text: str) -> None:
        self.message = text
        self.update()

    def set_hint(self, text: str) -> None:
        self.hint = text
        self.update()

    def set_paused(self, paused: bool) -> None:
        self.paused = bool(paused)
        self.update()

    def _geometry(self) -> tuple[float, float, float]:
        w, h = self._size
        if not w or not h:
            return 1.0, 0.0, 0.0
        s = min(self.width() / w, self.height() / h)
        return s, (self.width() - w * s) / 2, (self.height() - h * s) / 2

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if not self.clickable or not self._boxes:
            return super().mousePressEvent(event)
        s, ox, oy = self._geometry()
        p = event.position()
        x, y = (p.x() - ox) / s, (p.y() - oy) / s
        for i, (box, _, _) in enumerate(self._boxes):
            bx, by, bw, bh = box
            if bx <= x <= bx + bw and by <= y <= by + bh:
                self.select(i)
                return
        super().mousePressEvent(event)

    def select(self, index: int) -> None:
        self.selected = index
        self.update()
        self.face_clicked.emit(index)

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(24, 24, 28))
        if self._image is not None:
            s, ox, oy = self._geometry()
            w, h = self._size
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            p.drawImage(QRectF(ox, oy, w * s, h * s), self._image)
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            font = QFont(self.font())
            font.setPointSizeF(max(8.0, min(14.0, self.height() / 40)))
            font.setBold(True)
            p.setFont(font)
            fm = p.fontMetrics()
            fmf = QFontMetricsF(font, p.device())
            faces: list[tuple[int, QColor, QRectF]] = []
            texts: list[str] = []
            sizes: list[tuple[float, float]] = []
            p.setClipRect(QRectF(ox, oy, w * s, h * s))  # a face at the edge: its box stops at the picture
            for i, (box, text, colour) in enumerate(self._boxes):
                c = SELECTED_COLOUR if self.selected == i else colour
                bx, by, bw, bh = box
                r = QRectF(ox + bx * s, oy + by * s, bw * s, bh * s)
                p.setPen(QPen(c, 3 if self.selected == i else 2))
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawRect(r)
                if text:
                    faces.append((i, c, r))
                    texts.append(text)
                    sizes.append((label_width(fmf, text) + 8, fm.height() + 4))
            p.setClipping(False)
            # labels inside the picture and clear of each other (label_layout.place_labels)
            picture = (ox, oy, w * s, h * s)
            rects = place_labels([(r.x(), r.y(), r.width(), r.height()) for _, _, r in faces], sizes, picture)
            self.label_rects = rects
            for (_, c, _), text, (lx, ly, lw, lh) in zip(faces, texts, rects):
                p.fillRect(QRectF(lx, ly, lw, lh), c)
                p.setPen(QColor(0, 0, 0))
                shown = fitted_text(fmf, text, lw - 8)
                p.drawText(QPointF(lx + 4, ly + lh - fm.descent() - 2), shown)
        else:
            self.label_rects = []
        if self.paused:
            font = QFont(self.font())
            font.setPointSize(12)
            font.setBold(True)
            p.setFont(font)
            text = PAUSED_TEXT
            fm = p.fontMetrics()
            badge = QRectF(10, 10, fm.horizontalAdvance(text) + 20, fm.height() + 10)
            p.fillRect(badge, QColor(0, 0, 0, 190))
            p.setPen(QColor(255, 210, 80))
            p.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)
        if self.hint:
            font = QFont(self.font())
            font.setPointSize(11)
            p.setFont(font)
            flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
            top = 50 if self.paused else 10
            inner = QRectF(20, top + 8, self.width() - 40, self.height())
            need = p.fontMetrics().boundingRect(inner.toRect(), int(flags), self.hint).height()
            band = QRectF(10, top, self.width() - 20, need + 16)
            p.fillRect(band, QColor(20, 60, 110, 215))
            p.setPen(QColor(255, 255, 255))
            p.drawText(band.adjusted(10, 8, -10, -8), flags, self.hint)
        if self.message:
            p.setPen(QColor(255, 255, 255))
            font = QFont(self.font())
            font.setPointSize(12)
            p.setFont(font)
            text_box = self.rect().adjusted(20, 20, -20, -20)
            if self._image is not None:
                band = QRectF(0, self.height() - 70, self.width(), 70)
                p.fillRect(band, QColor(0, 0, 0, 170))
                text_box = band.toRect().adjusted(10, 5, -10, -5)
            p.drawText(text_box, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.message)
        p.end()


class LiveView(ImageWithBoxes):
    """Shows FrameResults: names with distances, colours for known/unknown."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.last_result = None
        self.set_message("Starting…")

    def clear(self) -> None:
        """No picture and no names (the source is gone)."""
        self.last_result = None
        self._image = None
        self._size = (0, 0)
        self._boxes = []
        self.update()

    def show_result(self, result) -> None:
        self.last_result = result
        self._image = qimage_from_rgb(result.rgb)
        self._size = (result.rgb.shape[1], result.rgb.shape[0])
        boxes = []
        for lab in result.labels:
            if lab.known:
                text = f"{lab.name}  {lab.distance:.2f}"
            else:
                text = "Unknown"
                if np.isfinite(lab.distance):
                    text = (f"Unknown — nearest: {lab.nearest}, {lab.distance:.2f}" if lab.nearest
                            else f"Unknown  {lab.distance:.2f}")
            boxes.append((lab.box, text, KNOWN_COLOUR if lab.known else UNKNOWN_COLOUR))
        self._boxes = boxes
        self.update()
