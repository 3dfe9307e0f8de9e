"""The generation capability: generations, models and prices, their typed errors."""
