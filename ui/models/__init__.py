"""The Models page (`pages/models.py` composes it): every checkpoint, to download (.pt or
ONNX), upload or delete.

- `details`: the table of models, and the chosen model's downloads, Delete and settings
- `info`: a saved model's outcome, history and settings in words, and how long models are
  kept (plain functions, no Streamlit: tested on their own)
- `unsaved`: runs not saved (a failed save, a stop), to download from memory or save again
- `uploads`: importing an uploaded checkpoint (`import_upload`, tested) and the upload box
"""
