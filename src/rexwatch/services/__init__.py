"""Services: all business logic, plain Python, typed inputs and outputs, domain errors."""
