"""Training: the loop that makes an encoder, its data, views, losses and teachers, its calibration and held-out check."""
