"""Field declarations: one Struct per field type, told apart by the ``type`` key.

A tagged union lets msgspec check per-type options (a decimal's scale, a lookup's
target) while decoding, and makes the exported JSON Schema exact for editors.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any, ClassVar, Literal

import msgspec

from metadata.model.common import Label, Name, Rule, Spec

__all__ = [
    "FIELD_TYPES",
    "AddressField",
    "AttachmentField",
    "AutonumberField",
    "BooleanField",
    "CurrencyField",
    "DateField",
    "DateTimeField",
    "DecimalField",
    "EmailField",
    "Field",
    "FieldType",
    "FormulaField",
    "FormulaResult",
    "GeolocationField",
    "IntegerField",
    "JsonField",
    "LongTextField",
    "LookupField",
    "MasterDetailField",
    "MultiPicklistField",
    "OnDelete",
    "PercentField",
    "PhoneField",
    "PicklistCode",
    "PicklistField",
    "PicklistValue",
    "RelationField",
    "RichTextField",
    "RollupField",
    "RollupFunction",
    "TextField",
    "TimeField",
    "UrlField",
    "UserField",
]


class FieldType(enum.StrEnum):
    TEXT = "text"
    LONG_TEXT = "long_text"
    RICH_TEXT = "rich_text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    CURRENCY = "currency"
    PERCENT = "percent"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    TIME = "time"
    EMAIL = "email"
    PHONE = "phone"
    URL = "url"
    PICKLIST = "picklist"
    MULTI_PICKLIST = "multi_picklist"
    LOOKUP = "lookup"
    MASTER_DETAIL = "master_detail"
    USER = "user"
    FORMULA = "formula"
    ROLLUP = "rollup"
    AUTONUMBER = "autonumber"
    JSON = "json"
    ATTACHMENT = "attachment"
    GEOLOCATION = "geolocation"
    ADDRESS = "address"


class OnDelete(enum.StrEnum):
    """What happens to a referencing record when the referenced one is deleted."""

    RESTRICT = "restrict"
    SET_NULL = "set_null"
    CASCADE = "cascade"


class RollupFunction(enum.StrEnum):
    COUNT = "count"
    SUM = "sum"
    MIN = "min"
    MAX = "max"
    AVG = "avg"


class FormulaResult(enum.StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    CURRENCY = "currency"
    PERCENT = "percent"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"


PicklistCode = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-]*$",
        max_length=63,
        description="The stored value: letters, digits, '_' or '-'.",
    ),
]
Precision = Annotated[int, msgspec.Meta(ge=1, le=38)]
Scale = Annotated[int, msgspec.Meta(ge=0, le=18)]


class _FieldBase(Spec, tag_field="type", kw_only=True):
    """Keys every field type accepts."""

    kind: ClassVar[FieldType]

    name: Name
    label: Label | None = None
    help: Label | None = None
    description: str | None = None
    indexed: bool = False
    pii: bool = False
    renamed_from: Name | None = None
    track_history: bool | None = None


class _StoredFieldBase(_FieldBase, kw_only=True):
    """Keys of fields whose value is entered or set, as opposed to computed."""

    required: bool = False
    unique: bool = False
    default: Rule = None
    read_only: bool = False
    external_id: bool = False


class TextField(_StoredFieldBase, tag="text", kw_only=True):
    kind = FieldType.TEXT
    max_length: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 255
    pattern: str | None = None


class LongTextField(_StoredFieldBase, tag="long_text", kw_only=True):
    kind = FieldType.LONG_TEXT
    max_length: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 32_000


class RichTextField(_StoredFieldBase, tag="rich_text", kw_only=True):
    kind = FieldType.RICH_TEXT
    max_length: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 131_072


class IntegerField(_StoredFieldBase, tag="integer", kw_only=True):
    kind = FieldType.INTEGER
    min_value: int | None = None
    max_value: int | None = None


class DecimalField(_StoredFieldBase, tag="decimal", kw_only=True):
    kind = FieldType.DECIMAL
    precision: Precision = 18
    scale: Scale = 2
    min_value: int | float | None = None
    max_value: int | float | None = None


class CurrencyField(_StoredFieldBase, tag="currency", kw_only=True):
    kind = FieldType.CURRENCY
    precision: Precision = 18
    scale: Scale = 2
    currency: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")] = "CNY"
    min_value: int | float | None = None
    max_value: int | float | None = None


class PercentField(_StoredFieldBase, tag="percent", kw_only=True):
    kind = FieldType.PERCENT
    precision: Precision = 5
    scale: Scale = 2
    min_value: int | float | None = None
    max_value: int | float | None = None


class BooleanField(_StoredFieldBase, tag="boolean", kw_only=True):
    kind = FieldType.BOOLEAN


class DateField(_StoredFieldBase, tag="date", kw_only=True):
    kind = FieldType.DATE


class DateTimeField(_StoredFieldBase, tag="datetime", kw_only=True):
    kind = FieldType.DATETIME


class TimeField(_StoredFieldBase, tag="time", kw_only=True):
    kind = FieldType.TIME


class EmailField(_StoredFieldBase, tag="email", kw_only=True):
    kind = FieldType.EMAIL


class PhoneField(_StoredFieldBase, tag="phone", kw_only=True):
    kind = FieldType.PHONE
    default_region: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")] = "CN"


class UrlField(_StoredFieldBase, tag="url", kw_only=True):
    """A web address: `http://` or `https://`, a real host name (IDNA, so `例子.中国` too)
    or IP address, an optional port, no user name or password, at most 2048 characters.
    A bare `example.com/x` is stored as `https://example.com/x`; any other scheme
    (`javascript:`, `mailto:`, `data:`) and anything that does not parse as a URL is
    refused with `bad_url`. E-mail addresses have their own type, `email`."""

    kind = FieldType.URL


class PicklistValue(Spec, kw_only=True):
    """One choice of a picklist; retired ones stay (`active: false`) so old rows keep meaning."""

    value: PicklistCode
    label: Label | None = None
    order: int | None = None
    active: bool = True
    color: Annotated[str, msgspec.Meta(pattern=r"^#[0-9a-fA-F]{6}$")] | None = None


class PicklistField(_StoredFieldBase, tag="picklist", kw_only=True):
    """Either ``values`` of its own or a ``value_set`` shared across objects."""

    kind = FieldType.PICKLIST
    values: list[PicklistCode | PicklistValue] = msgspec.field(default_factory=list)
    value_set: Name | None = None


class MultiPicklistField(_StoredFieldBase, tag="multi_picklist", kw_only=True):
    kind = FieldType.MULTI_PICKLIST
    values: list[PicklistCode | PicklistValue] = msgspec.field(default_factory=list)
    value_set: Name | None = None
    max_selections: Annotated[int, msgspec.Meta(ge=1)] | None = None


class LookupField(_StoredFieldBase, tag="lookup", kw_only=True):
    """A reference to another object's record; ``filter`` limits what may be picked."""

    kind = FieldType.LOOKUP
    to: Name
    on_delete: OnDelete = OnDelete.SET_NULL
    filter: Rule = None
    related_label: Label | None = None


class MasterDetailField(_StoredFieldBase, tag="master_detail", kw_only=True):
    """A child's mandatory parent: the child lives and dies with it."""

    kind = FieldType.MASTER_DETAIL
    to: Name
    on_delete: Literal["cascade", "restrict"] = "cascade"
    related_label: Label | None = None


class UserField(_StoredFieldBase, tag="user", kw_only=True):
    kind = FieldType.USER
    on_delete: OnDelete = OnDelete.SET_NULL


class FormulaField(_FieldBase, tag="formula", kw_only=True):
    """A value computed from the record by a JsonLogic expression; never stored by hand.
    Added, or with its expression, result type or scale changed, it is filled on the
    existing records by ``metacrm migrate`` (a resumable backfill)."""

    kind = FieldType.FORMULA
    expression: Rule
    result_type: FormulaResult
    scale: Scale | None = None


class RollupField(_FieldBase, tag="rollup", kw_only=True):
    """An aggregate of child records (``of``) linked through their lookup ``via``.
    Added, or with its definition changed, it is filled on the existing records by
    ``metacrm migrate`` (a resumable backfill)."""

    kind = FieldType.ROLLUP
    of: Name
    function: RollupFunction
    via: Name | None = None
    field: Name | None = None
    filter: Rule = None


class AutonumberField(_FieldBase, tag="autonumber", kw_only=True):
    """A gap-free number formatted by ``pattern``, e.g. ``TD-{YYYY}{MM}-{0000}``."""

    kind = FieldType.AUTONUMBER
    pattern: Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
    start: Annotated[int, msgspec.Meta(ge=0)] = 1
    external_id: bool = False


class JsonField(_StoredFieldBase, tag="json", kw_only=True):
    kind = FieldType.JSON


class AttachmentField(_StoredFieldBase, tag="attachment", kw_only=True):
    kind = FieldType.ATTACHMENT
    max_size_mb: Annotated[int, msgspec.Meta(ge=1, le=1024)] = 20
    accept: list[str] = msgspec.field(default_factory=list)
    multiple: bool = False


class GeolocationField(_StoredFieldBase, tag="geolocation", kw_only=True):
    kind = FieldType.GEOLOCATION


AddressComponent = Literal["country", "province", "city", "district", "street", "postal_code"]


class AddressField(_StoredFieldBase, tag="address", kw_only=True):
    """A compound address; ``components`` chooses the parts, in display order."""

    kind = FieldType.ADDRESS
    components: list[AddressComponent] = msgspec.field(
        default_factory=lambda: ["country", "province", "city", "district", "street", "postal_code"]
    )


Field = (
    TextField
    | LongTextField
    | RichTextField
    | IntegerField
    | DecimalField
    | CurrencyField
    | PercentField
    | BooleanField
    | DateField
    | DateTimeField
    | TimeField
    | EmailField
    | PhoneField
    | UrlField
    | PicklistField
    | MultiPicklistField
    | LookupField
    | MasterDetailField
    | UserField
    | FormulaField
    | RollupField
    | AutonumberField
    | JsonField
    | AttachmentField
    | GeolocationField
    | AddressField
)

RelationField = LookupField | MasterDetailField

#: Field type name -> Struct, the registry the docs, checks and engine dispatch on.
FIELD_TYPES: dict[FieldType, type[Any]] = {cls.kind: cls for cls in Field.__args__}
