"""The metadata language as msgspec Structs: the contract packs are written against."""

from metadata.model.automations import Automation
from metadata.model.common import LOCALES, Label, Name, Operation, Rule, Spec, Text
from metadata.model.fields import FIELD_TYPES, Field, FieldType, OnDelete, PicklistValue
from metadata.model.layouts import FormLayout, LayoutFile, ListView
from metadata.model.objects import Disable, Index, ObjectDef, ValidationRule
from metadata.model.pack import Layer, PackManifest, Requirements
from metadata.model.security import Role, RoleFile, Scope
from metadata.model.value_sets import ValueSet
from metadata.model.workflows import ApprovalProcess, Workflow

__all__ = [
    "FIELD_TYPES",
    "LOCALES",
    "ApprovalProcess",
    "Automation",
    "Disable",
    "Field",
    "FieldType",
    "FormLayout",
    "Index",
    "Label",
    "Layer",
    "LayoutFile",
    "ListView",
    "Name",
    "ObjectDef",
    "OnDelete",
    "Operation",
    "PackManifest",
    "PicklistValue",
    "Requirements",
    "Role",
    "RoleFile",
    "Rule",
    "Scope",
    "Spec",
    "Text",
    "ValidationRule",
    "ValueSet",
    "Workflow",
]
