"""The views of the Inside page, one module each (`pages/inside.py` composes them):

- `digit`: choosing the digit (test image, the Draw page's drawing, an upload)
- `layers`: the layers as a column, each with its activations, then the probabilities
- `filters`: first-layer kernels or templates; the top test digits of a chosen unit
- `attributions`: attribution maps over the input, for any method and class
- `embedding`: the map of test digits, clickable, with the current digit as a star
- `dynamics`: a run's per-layer norms and update ratios over steps, weight histograms per epoch
- `images`: pure numpy pictures (grids, strips, heat maps) the views draw with
- `common`: the model looked into, the digit, cached results; `link`: Look inside buttons
"""
