"""Shared UI helpers of the MNIST Playground Streamlit app (the engine is `mnist_core`)."""
