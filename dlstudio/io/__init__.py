"""Project files: versioned JSON + safetensors sidecar. Never pickle, never execute file content."""
