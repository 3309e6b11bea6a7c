"""Object-centric teachers for vadbench: background-subtraction objects, object-level models, box -> map."""
