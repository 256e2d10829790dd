"""Building: spec targets, factories and hf: configs into nn.Modules (meta device)."""
