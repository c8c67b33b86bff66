"""The Start here page (the landing page, `/`): what the playground is, a three-step path, the
lessons that run the tutorials' experiments live, and the glossary."""
