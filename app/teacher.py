"""dlib's face-recognition ResNet (the one inside face_recognition) as a teacher for distillation.

Optional: needs the `teacher` extra (dlib-bin, face_recognition_models). Our student learns to
reproduce its embedding of the same photo, which transfers what it learned from ~3M faces.
"""

from __future__ import annotations

import numpy as np

from app.detection import Face
from app.errors import ModelError


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
        self._shape = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
        self._net = dlib.face_recognition_model_v1(frm.face_recognition_model_location())

    def embed(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        """Unit-length 128-d teacher embedding of `face` in `rgb`."""
        x, y, w, h = face.box
        rect = self._dlib.rectangle(int(round(x)), int(round(y)), int(round(x + w)), int(round(y + h)))
        shape = self._shape(rgb, rect)
        vec = np.asarray(self._net.compute_face_descriptor(rgb, shape, 0), dtype=np.float32)
        return vec / max(float(np.linalg.norm(vec)), 1e-8)
