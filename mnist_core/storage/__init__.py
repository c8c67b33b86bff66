"""What outlives a run: checkpoint files (`checkpoints`), a run's curves and events
(`history`), the folders of pretrained and own models (`store`), and ONNX/TorchScript export
(`export`).
"""
