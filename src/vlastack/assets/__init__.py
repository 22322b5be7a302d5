"""Files that ship inside the package.

``demo_policy/`` is the policy ``vlastack demo`` runs: trained by this project on its own MT50
demonstrations; README.md says how (command, time, hardware) and what it scores. Its ``grounding.safetensors``
(``vlastack ground --tasks mt50``) maps instructions in words it was never trained on onto its 50 skills.
"""

from pathlib import Path

DEMO_POLICY = Path(__file__).parent / "demo_policy"
"""Policy directory of the shipped demo checkpoint."""
