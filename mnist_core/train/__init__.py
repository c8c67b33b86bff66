"""Training: the settings (`config`), the loop (`loop`) and its frozen events (`events`),
live controls (`control`), schedules, tuned recipes, evaluation, weight dynamics, time to a
target accuracy (`race`), time estimates (`estimate`), sweep specs (`sweep`) and fine-tuning
(`finetune`).
"""
