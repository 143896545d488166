"""The model registry: built-in styles inside the package, imported ones under the home."""
