"""`live`: camera (or replayed file, or synthetic scene) -> engine -> window / virtual camera / recording."""
