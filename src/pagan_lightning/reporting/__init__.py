"""What a run shows: image grids and metric callbacks during training, figures, the pair
discriminator probe, the paper's reported numbers and the seed summary of a sweep."""
