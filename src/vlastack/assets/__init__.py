"""Files that ship inside the package.

``demo_policy/`` is the policy ``vlastack demo`` runs: trained by this project on its own MT50
demonstrations; README.md says how (command, time, hardware) and what it scores.
"""

from pathlib import Path

DEMO_POLICY = Path(__file__).parent / "demo_policy"
"""Policy directory of the shipped demo checkpoint."""
