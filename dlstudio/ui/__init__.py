"""The studio window (PySide6). Everything Qt lives here and in dlstudio/app.py."""
