"""Operation input: GET query parameters, form posts or a POST ``Parameters`` resource → :class:`OperationParams`.

The Parameters envelope is checked with marshmallow (right resourceType, every parameter named, one value[x] of
the right JSON type), so handlers only ever see well-formed input and every malformed body is a 400.
"""
from __future__ import annotations

from typing import Any, Mapping

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema

from termserver.errors import InvalidRequest
from termserver.services.results import Coding

_VALUE_TYPES: dict[str, tuple[type, ...]] = {
    "valueBoolean": (bool,), "valueInteger": (int,), "valueDecimal": (int, float), "valueString": (str,),
    "valueUri": (str,), "valueUrl": (str,), "valueCanonical": (str,), "valueCode": (str,), "valueId": (str,),
    "valueDateTime": (str,), "valueDate": (str,), "valueInstant": (str,), "valueMarkdown": (str,),
    "valueCoding": (dict,), "valueCodeableConcept": (dict,), "valueIdentifier": (dict,), "valueQuantity": (dict,),
}


class ParameterSchema(Schema):
    class Meta:
        unknown = INCLUDE

    name = fields.String(required=True, validate=validate.Length(min=1))
    resource = fields.Dict()
    part = fields.List(fields.Dict())

    @validates_schema
    def one_value(self, data: dict[str, Any], **_: Any) -> None:
        problem = value_problem(data)
        if problem:
            raise ValidationError(problem)
        for index, part in enumerate(data.get("part") or []):
            errors = _PARAMETER.validate(part)
            if errors:
                raise ValidationError(f"parameter '{data.get('name')}' has a malformed part: "
                                      f"{_flatten(errors, f'part[{index}]')}")


def value_problem(parameter: dict[str, Any]) -> str | None:
    """What is wrong with a parameter's value[x] (several values, or the wrong JSON type), or None."""
    values = [k for k in parameter if k.startswith("value")]
    if len(values) > 1:
        return f"parameter '{parameter.get('name')}' has several values: {', '.join(values)}"
    for key in values:
        expected = _VALUE_TYPES.get(key)
        value = parameter[key]
        if expected and (not isinstance(value, expected) or (bool not in expected and isinstance(value, bool))):
            return f"parameter '{parameter.get('name')}': {key} has the wrong JSON type"
    return None


def _plain_values(body: dict[str, Any]) -> dict[str, list[Any]] | None:
    """The values of a Parameters whose parameters are all plain (a name and one well-typed value or a resource, no
    parts, nothing else); None for anything else, which the marshmallow schema then checks and explains. Most
    requests are plain, and a ``$batch-validate-code`` holds hundreds of them: this skips marshmallow's cost."""
    if body.get("resourceType") != "Parameters":
        return None
    parameters = body.get("parameter", [])
    if not isinstance(parameters, list):
        return None
    values: dict[str, list[Any]] = {}
    for parameter in parameters:
        if not isinstance(parameter, dict):
            return None
        name = parameter.get("name")
        if not isinstance(name, str) or not name:
            return None
        # one pass over the keys: what value_problem and _value would find (a resource wins over a value[x])
        value: Any = None
        found = False
        resource = _NO_RESOURCE
        for key, item in parameter.items():
            if key == "name":
                continue
            if key == "resource":
                if not isinstance(item, dict):
                    return None
                resource = item
            elif key.startswith("value"):
                if found:
                    return None  # several values
                expected = _VALUE_TYPES.get(key)
                if expected and (not isinstance(item, expected) or (bool not in expected and isinstance(item, bool))):
                    return None
                value, found = item, True
            else:
                return None
        values.setdefault(name, []).append(value if resource is _NO_RESOURCE else resource)
    return values


_NO_RESOURCE: Any = object()


class ParametersSchema(Schema):
    class Meta:
        unknown = INCLUDE

    resourceType = fields.String(required=True, validate=validate.Equal(
        "Parameters", error="the request body must be a FHIR Parameters resource, not {input}"))
    parameter = fields.List(fields.Nested(ParameterSchema), load_default=list)


# schema instances are reusable (and thread-safe for loading); building one per call is most of marshmallow's cost
_PARAMETER = ParameterSchema()
_PARAMETERS = ParametersSchema()


def _value(parameter: dict[str, Any]) -> Any:
    if "resource" in parameter:
        return parameter["resource"]
    if "part" in parameter:
        return parameter["part"]
    for key, value in parameter.items():
        if key.startswith("value"):
            return value
    return None


class OperationParams:
    """Named operation inputs, each a list of values (strings for GET, typed JSON values for POST)."""

    def __init__(self, values: dict[str, list[Any]], *, from_query: bool) -> None:
        self.values = values
        self.from_query = from_query
        self._checked: set[str] = set()  # names whose values passed _check_text (handlers read a name many times)

    @classmethod
    def from_query(cls, args: Mapping[str, list[str]]) -> OperationParams:
        return cls({k: list(v) for k, v in args.items()}, from_query=True)

    @classmethod
    def from_parameters(cls, body: Any) -> OperationParams:
        """:raises InvalidRequest: when ``body`` is not a well-formed Parameters resource."""
        if not isinstance(body, dict):
            raise InvalidRequest("The request body must be a JSON object (a FHIR Parameters resource)")
        plain = _plain_values(body)
        if plain is not None:
            return cls(plain, from_query=False)
        try:
            data = _PARAMETERS.load(body)
        except ValidationError as exc:
            raise InvalidRequest(f"Malformed Parameters: {_flatten(exc.messages)}") from exc
        values: dict[str, list[Any]] = {}
        for parameter in data["parameter"]:
            values.setdefault(parameter["name"], []).append(_value(parameter))
        return cls(values, from_query=False)

    def names(self) -> set[str]:
        return set(self.values)

    def has(self, name: str) -> bool:
        return name in self.values

    def all(self, name: str) -> list[Any]:
        values = self.values.get(name)
        if values is None:
            return []
        if name not in self._checked:
            for value in values:
                _check_text(name, value)
            self._checked.add(name)
        return values

    def one(self, name: str) -> Any:
        if not self.values.get(name):  # most names a handler asks for were not sent
            return None
        items = self.all(name)
        if len(items) > 1 and name not in ("property", "designation", "tx-resource"):
            raise InvalidRequest(f"Parameter '{name}' may appear only once")
        return items[0]

    def str(self, name: str) -> str | None:
        value = self.one(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise InvalidRequest(f"Parameter '{name}' must be a string")
        return value

    def bool(self, name: str, default: bool = False) -> bool:
        value = self.one(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise InvalidRequest(f"Parameter '{name}' must be true or false, not '{value}'")

    def int(self, name: str) -> int | None:
        value = self.one(name)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            result = value
        else:
            try:
                result = int(str(value))
            except ValueError:
                raise InvalidRequest(f"Parameter '{name}' must be a whole number, not '{value}'") from None
        if result < 0:
            raise InvalidRequest(f"Parameter '{name}' must not be negative")
        return result

    def resource(self, name: str) -> dict[str, Any] | None:
        value = self.one(name)
        if value is None:
            return None
        if self.from_query:
            raise InvalidRequest(f"Parameter '{name}' is a resource and can only be sent with POST")
        if not isinstance(value, dict) or "resourceType" not in value:
            raise InvalidRequest(f"Parameter '{name}' must be a resource")
        return value

    def coding(self, name: str) -> Coding | None:
        """A Coding parameter (GET form: ``system|code``)."""
        value = self.one(name)
        if value is None:
            return None
        if isinstance(value, str):
            system, sep, code = value.rpartition("|")
            if not sep or not system or not code:
                raise InvalidRequest(f"Parameter '{name}' in a URL must look like 'system|code', not '{value}'")
            return Coding(system, code)
        if not isinstance(value, dict):
            raise InvalidRequest(f"Parameter '{name}' must be a Coding")
        return coding_from_json(value, name)

    def codeable_concept(self, name: str) -> dict[str, Any] | None:
        value = self.one(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise InvalidRequest(f"Parameter '{name}' must be a CodeableConcept (use POST)")
        codings = value.get("coding", [])
        if not isinstance(codings, list):
            raise InvalidRequest(f"Parameter '{name}': coding must be a list")
        return value



def coding_from_json(value: dict[str, Any], where: str) -> Coding:
    """A Coding from JSON, checking the types of its elements.

    :raises InvalidRequest: when an element has the wrong type.
    """
    for key in ("system", "code", "display", "version"):
        if key in value and not isinstance(value[key], str):
            raise InvalidRequest(f"{where}.{key} must be a string")
    return Coding(value.get("system"), value.get("code"), value.get("display"), value.get("version"))


def _check_text(name: str, value: Any) -> None:
    """Reject NUL characters and lone surrogates (``"\\ud800"`` in JSON) anywhere in a parameter value: no code or
    URI has one, PostgreSQL cannot store a NUL, and a surrogate cannot be encoded to send to the database.

    :raises InvalidRequest: naming the parameter.
    """
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidRequest(f"Parameter '{name}' contains a NUL character")
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidRequest(f"Parameter '{name}' contains a lone surrogate (\\ud800-\\udfff), which "
                                     f"is not a character") from None
    elif isinstance(value, dict):
        for item in value.values():
            _check_text(name, item)
    elif isinstance(value, list):
        for item in value:
            _check_text(name, item)


def _flatten(messages: Any, path: str = "Parameters") -> str:
    """marshmallow's nested error dict as ``Parameters.parameter[0]: message`` lines."""
    if isinstance(messages, dict):
        return "; ".join(_flatten(v, path if k == "_schema" else f"{path}[{k}]" if isinstance(k, int)
                                  else f"{path}.{k}") for k, v in messages.items())
    if isinstance(messages, list):
        return "; ".join(_flatten(m, path) for m in messages)
    return f"{path}: {messages}"
