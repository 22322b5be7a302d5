"""Building blocks of policies: vision and text encoders, transformer blocks, token head, flow expert."""
