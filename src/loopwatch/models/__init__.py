"""Models per task: plain ``nn.Module`` networks plus their LightningModules."""
