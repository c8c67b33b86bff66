"""`python -m mnist_core <command>`: the parser and the train/evaluate/predict/export/download
commands (`main`), sweeps (`sweep`) and fine-tuning on one's own digits (`finetune`).
"""
