"""``python -m repalign.cli``: the ``repalign`` command."""

import sys

from . import main

sys.exit(main())
