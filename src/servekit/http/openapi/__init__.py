"""The OpenAPI document and its routes."""
