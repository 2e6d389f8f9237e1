"""``python -m engine``: see engine/cli/main.py."""

import sys

from .cli.main import main

sys.exit(main())
