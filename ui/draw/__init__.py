"""The Draw page (`pages/draw.py` composes it): draw a digit or upload a photo of one, and
see what the models make of it.

- `input`: the canvas, or an uploaded photo with its crop box
- `crop`: the crop box of an uploaded photo (sliders, preview), in fractions of the image
- `readings`: the chosen model's prediction, the preprocessing steps, the pretrained models'
  readings, the label buttons
- `handwriting/`: My handwriting: the labelled digits, how every model reads them, fine-tuning
"""
