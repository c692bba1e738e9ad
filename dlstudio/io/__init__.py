"""Project files: versioned JSON + safetensors sidecar. Never pickle, never execute file content."""

from .project import SUFFIX, Project  # noqa: F401
from .schema import FORMAT_NAME, FORMAT_VERSION  # noqa: F401
