"""metacrm's rules: the one place that understands JsonLogic.

Compile once, evaluate many times: ``compile_rule`` turns a rule into a Python function
for one record, ``to_sql`` into a SQLAlchemy expression for many; both read the same
operator registry and agree on every rule they both accept.
"""

from .compile_python import CompiledRule, check_rule, compile_rule, evaluate
from .compile_sql import to_sql, to_sql_with_env
from .context import FIELD_TYPES, FieldRef, RuleContext
from .env import DEFAULT_TIMEZONE, EvalEnv, RecordSource, UserInfo, system_clock
from .errors import (
    ProblemCode,
    RuleCompileError,
    RuleError,
    RuleNotSqlError,
    RuleProblem,
    RuleRuntimeError,
)
from .operators import REGISTRY, default_registry
from .ops_records import AGGREGATES as RECORD_QUERIES
from .ops_records import lock_key, searched_scopes
from .reader import FieldHidden, FieldReader
from .registry import ArgMode, Kind, Operator, OperatorRegistry

__all__ = [
    "DEFAULT_TIMEZONE",
    "FIELD_TYPES",
    "RECORD_QUERIES",
    "REGISTRY",
    "ArgMode",
    "CompiledRule",
    "EvalEnv",
    "FieldHidden",
    "FieldReader",
    "FieldRef",
    "Kind",
    "Operator",
    "OperatorRegistry",
    "ProblemCode",
    "RecordSource",
    "RuleCompileError",
    "RuleContext",
    "RuleError",
    "RuleNotSqlError",
    "RuleProblem",
    "RuleRuntimeError",
    "UserInfo",
    "check_rule",
    "compile_rule",
    "default_registry",
    "evaluate",
    "lock_key",
    "searched_scopes",
    "system_clock",
    "to_sql",
    "to_sql_with_env",
]
