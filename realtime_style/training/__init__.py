"""Training (PyTorch): distillation of teachers into fast students. Imported lazily by the
commands that need it; the runtime never imports this package."""
