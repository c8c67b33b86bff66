"""mnist_core: the engine behind MNIST Playground. Never imports streamlit."""

__version__ = "0.1.0"
