"""Post-training (``vlastack improve``): operators, assisted episodes (learning from interventions), rounds of fine-tuning and validation."""
