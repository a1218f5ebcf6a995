"""The generated REST API: routes built from the compiled schema, its OpenAPI document,
authentication, limits and problem answers (``create_app``)."""
