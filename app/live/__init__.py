"""Live recognition: frame sources, the engine, tracks across frames, and the recent faces they leave."""
