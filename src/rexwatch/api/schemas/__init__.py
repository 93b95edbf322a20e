"""Pydantic models of REST requests and responses, one module per area, with the codec from
and to the services' domain objects. They make the OpenAPI document precise."""
