"""Recognition: finding faces, aligning them, embedding them, judging their quality, and deciding who they are."""
