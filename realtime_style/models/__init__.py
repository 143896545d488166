"""Style models: the registry (built-in styles inside the package, imported and pulled ones under
the home), import, pull, format sniffing, fp16 conversion and the catalogue of published styles."""
