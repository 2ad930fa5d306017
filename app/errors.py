"""User-facing errors: each carries a message fit to show a person as is.

The CLI prints `str(err)` on one line and exits non-zero; the GUI shows it in a dialog.
Anything that is not a `OneShotError` is a bug.
"""


class OneShotError(Exception):
    """Base class: a problem with the user's input or environment, not a bug."""


class ImageError(OneShotError):
    """A file that is not a readable image (corrupt, empty, truncated, too large...)."""


class NoFaceError(OneShotError):
    """No face was found where one was required."""


class MultipleFacesError(OneShotError):
    """Several faces where one was required and none was chosen."""

    def __init__(self, message: str, count: int):
        super().__init__(message)
        self.count = count


class ModelError(OneShotError):
    """A model file that is missing, damaged or of another architecture."""


class SourceError(OneShotError):
    """A camera, video, folder or stream that cannot be opened or stops delivering."""


class GalleryError(OneShotError):
    """The gallery database cannot be used (locked, read-only, corrupt) or a request is invalid."""


class NameTakenError(GalleryError):
    """A name already belongs to someone else: a rename onto it can offer to merge the two."""

    def __init__(self, message: str, person_id: int, name: str):
        super().__init__(message)
        self.person_id = person_id
        self.name = name


class QualityError(OneShotError):
    """A face too small, blurred or turned away to be added to someone's photos."""


class DatasetError(OneShotError):
    """A training or evaluation dataset that is missing or malformed."""


class Cancelled(OneShotError):
    """Long work stopped at the user's request."""


class SelfTestFailure(Exception):
    """A self-test step that did not give the expected result (the message is shown as is); not a
    OneShotError: it reports a broken installation, not a user's bad input."""
