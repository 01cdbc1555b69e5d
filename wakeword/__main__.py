"""``python -m wakeword`` is the ``wakeword`` command."""

import sys

from wakeword.cli.main import main

sys.exit(main())
