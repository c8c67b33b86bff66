"""`python -m mnist_core <command>`: the parser and `main` (main.py), one module per family of
commands: train, evaluate (evaluate/predict/explain), resources (export/download/models),
sweep, finetune; options.py holds the options train and sweep share.
"""
