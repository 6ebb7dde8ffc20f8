"""``crimemap serve`` and ``crimemap demo`` (issue 7)."""
