"""My handwriting, on the Draw page: label what was drawn (`label`), keep and move the set
(`collection`), see how every model reads it (`scores`), fine-tune a model on it (`tuning`)."""
