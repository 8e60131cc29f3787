"""Small Keras layers shared by task heads."""
