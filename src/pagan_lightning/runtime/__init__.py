"""What keeps a run safe and repeatable, independent of the paper: errors and their one-line
messages, checkpoints and trusted loading, run folders, config checks and Hydra helpers,
framework shims and hardware detection. Imports nothing else of the package."""
