"""Improving a policy after imitation: operators, assisted episodes (learning from interventions), rounds of fine-tuning."""
