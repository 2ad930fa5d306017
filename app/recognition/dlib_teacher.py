"""dlib's face-recognition ResNet (the one inside face_recognition) as a teacher for distillation.

Optional: needs the `teacher` extra (dlib-bin, face_recognition_models). Our student learns to
reproduce its embedding of the same photo, which transfers what it learned from ~3M faces.
"""

from __future__ import annotations

import numpy as np

from app.errors import ModelError
from app.recognition.detection import Face

CHIP_SIZE, CHIP_PADDING = 150, 0.25  # what compute_face_descriptor cuts from a photo by default


class DlibTeacher:
    """Embeds a face given its box, with dlib's own 5-point alignment (as face_recognition does)."""

    def __init__(self) -> None:
        try:
            import warnings

            import dlib
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import face_recognition_models as frm
        except ImportError as exc:
            raise ModelError("The dlib teacher needs `pip install .[teacher]` "
                             f"(dlib-bin, face_recognition_models): {exc}") from None
        self._dlib = dlib
        self._predictor = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
        self._net = dlib.face_recognition_model_v1(frm.face_recognition_model_location())

    def _shape(self, rgb: np.ndarray, face: Face):
        x, y, w, h = face.box
        rect = self._dlib.rectangle(int(round(x)), int(round(y)), int(round(x + w)), int(round(y + h)))
        return self._predictor(rgb, rect)

    def embed(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        """Unit-length 128-d teacher embedding of `face` in `rgb`."""
        vec = np.asarray(self._net.compute_face_descriptor(rgb, self._shape(rgb, face), 0), dtype=np.float32)
        return vec / max(float(np.linalg.norm(vec)), 1e-8)

    def chip(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        """dlib's own aligned 150×150 chip of `face`, the view `embed` describes. Blending two
        chips gives the teacher a face that no photo shows (see `datasets.build_mixes`)."""
        return np.asarray(self._dlib.get_face_chip(rgb, self._shape(rgb, face), size=CHIP_SIZE,
                                                   padding=CHIP_PADDING))

    def embed_chips(self, chips: list[np.ndarray]) -> np.ndarray:
        """(N,128) unit teacher embeddings of aligned chips from `chip` (or blends of them)."""
        if not chips:
            return np.zeros((0, 128), np.float32)
        vec = np.asarray(self._net.compute_face_descriptor([np.ascontiguousarray(c) for c in chips]),
                         dtype=np.float32)
        return vec / np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), 1e-8)
