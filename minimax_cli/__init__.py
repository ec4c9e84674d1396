"""minimax: offline long-document batch jobs on the MiniMax hybrid model."""

__version__ = "0.1.0"

import os as _os

# Nothing is ever downloaded: set before anything imports transformers or huggingface_hub.
_os.environ.setdefault("HF_HUB_OFFLINE", "1")
_os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
_os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
