"""Training (PyTorch): distillation of teachers into fast students (`distill`), new styles from a
painting with the VGG16 perceptual loss (`train`), and Gatys et al.'s per-image optimisation
(`optimize`). Imported lazily by the commands that need it; the runtime never imports this package."""
