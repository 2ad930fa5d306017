"""`python -m app`, and the entry script of the PyInstaller bundle (build.spec)."""

import multiprocessing

from app.cli import main

if __name__ == "__main__":
    # In a frozen bundle, the spawned workers that prepare training crops start this program
    # again; freeze_support() turns such a start into the worker instead of the app.
    multiprocessing.freeze_support()
    raise SystemExit(main())
