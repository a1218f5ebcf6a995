"""Who may do what: roles and scopes compiled to SQL, field access, personal data masks,
and the organisation tree they are measured against."""

from engine.records.masking import mask
from engine.security.authorizer import RoleAuthorizer
from engine.security.grants import ADMINISTRATOR, ObjectAccess, Policy

__all__ = ["ADMINISTRATOR", "ObjectAccess", "Policy", "RoleAuthorizer", "mask"]
