#!/usr/bin/env python3
"""Validate a JSON document against a JSON Schema, offline.

Usage: validate_json_schema.py SCHEMA FILE [FILE...]

FILE may be `-` for standard input. Uses the PyPI `jsonschema` package (>= 4.0; `pip install
jsonschema`) with the validator class matching the schema's own "$schema" (Draft-07 for SARIF
2.1.0). Remote "$ref"s are never fetched: any reference that does not resolve inside the schema
file is reported as an error. Formats ("date-time", "uri", ...) are checked where jsonschema has
a checker available (some need optional packages; without them the format is not checked).

Exit status: 0 if every FILE is valid; 1 if any is invalid or cannot be read/parsed, or the
schema itself cannot be loaded; 2 on a usage error.
"""

from __future__ import annotations

import json
import sys

MAX_ERRORS = 50


def _load_json(path: str):
    if path == "-":
        return json.load(sys.stdin)
    with open(path, "rb") as fh:
        return json.loads(fh.read().decode("utf-8"))


def _make_validator(schema):
    import jsonschema
    from jsonschema.validators import validator_for

    cls = validator_for(schema, default=jsonschema.Draft7Validator)
    cls.check_schema(schema)
    fmt = getattr(cls, "FORMAT_CHECKER", None)

    try:  # jsonschema >= 4.18: `referencing` registry with no remote retrieval.
        from referencing import Registry, Resource
        from referencing.exceptions import NoSuchResource

        def _no_retrieve(uri: str):
            raise NoSuchResource(ref=uri)

        resource = Resource.from_contents(
            schema, default_specification=_specification_for(cls)
        )
        registry = Registry(retrieve=_no_retrieve)
        if resource.id():
            registry = registry.with_resource(resource.id(), resource)
        return cls(schema, registry=registry, format_checker=fmt)
    except ImportError:
        pass

    # Older jsonschema: a RefResolver whose handlers refuse every remote scheme.
    def _refuse(uri):
        raise jsonschema.RefResolutionError(f"remote $ref not allowed (offline): {uri}")

    resolver = jsonschema.RefResolver.from_schema(
        schema, handlers={"http": _refuse, "https": _refuse, "ftp": _refuse, "file": _refuse}
    )
    return cls(schema, resolver=resolver, format_checker=fmt)


def _specification_for(cls):
    from referencing import jsonschema as rj

    meta = getattr(cls, "META_SCHEMA", {}) or {}
    uri = meta.get("$schema") or meta.get("$id") or meta.get("id") or ""
    try:
        return rj.specification_with(uri)
    except Exception:
        return rj.DRAFT7


def _path(parts) -> str:
    out = "$"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        import jsonschema  # noqa: F401
    except ImportError:
        print("error: the `jsonschema` package is required (pip install jsonschema)", file=sys.stderr)
        return 2
    try:
        schema = _load_json(argv[1])
        validator = _make_validator(schema)
    except Exception as exc:  # bad schema file or invalid schema
        print(f"error: cannot load schema {argv[1]}: {exc}", file=sys.stderr)
        return 1

    status = 0
    for path in argv[2:]:
        try:
            doc = _load_json(path)
        except Exception as exc:
            print(f"{path}: error: cannot parse JSON: {exc}", file=sys.stderr)
            status = 1
            continue
        try:
            errors = sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
        except Exception as exc:  # e.g. an unresolvable (remote) $ref
            print(f"{path}: error: validation failed to run: {exc}", file=sys.stderr)
            status = 1
            continue
        if not errors:
            print(f"{path}: valid")
            continue
        status = 1
        print(f"{path}: INVALID ({len(errors)} error(s))")
        for err in errors[:MAX_ERRORS]:
            print(f"  {_path(err.absolute_path)}: {err.message}")
            # For anyOf/oneOf failures, show the most relevant sub-error too.
            if err.context:
                best = jsonschema.exceptions.best_match(err.context)
                if best is not None:
                    print(f"    (best match: {_path(best.absolute_path)}: {best.message})")
        if len(errors) > MAX_ERRORS:
            print(f"  ... and {len(errors) - MAX_ERRORS} more")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
