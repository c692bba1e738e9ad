"""Data for training: built-in datasets, CSV, NumPy and image-folder readers, preparation and graph binding."""

from .binding import Binding, TaskInfo, bind, load_data, task_info
from .builtin import BUILTINS, load_builtin
from .dataset import ArrayData, FolderData
from .prepare import Splits, prepare

__all__ = [
    "ArrayData",
    "BUILTINS",
    "Binding",
    "FolderData",
    "Splits",
    "TaskInfo",
    "bind",
    "load_builtin",
    "load_data",
    "prepare",
    "task_info",
]
