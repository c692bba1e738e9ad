"""PyInstaller entry point: the same as `python -m dlstudio`."""
import sys

from dlstudio.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
