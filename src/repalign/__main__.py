"""``python -m repalign``: the ``repalign`` command (the same as ``python -m repalign.cli``)."""

import sys

from .cli import main

sys.exit(main())
