"""A person's digit -> the 28x28 input a model takes: a drawing or upload (`preprocess`), a photo
(`photo`), uploaded bytes decoded safely (`decode`), synthetic stroke-drawn digits (`strokes`),
and the visitor's own labelled set (`handwriting`).
"""
