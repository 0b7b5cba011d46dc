#!/usr/bin/python3
"""Validates JSON documents against a JSON schema (bitlab's result schema, or any).

usage: validate_result.py SCHEMA.json FILE.json...

Exit 0 when every file is valid; 1 with one line per invalid file on stderr
("FILE: at PATH: MESSAGE"); 2 when it cannot validate at all (bad usage, an
unreadable schema, no python3-jsonschema). Run it with /usr/bin/python3: Debian's
python3-jsonschema lives there, a pyenv `python3` on PATH may lack it.
"""
import json
import sys


def one_line(text):
    return " ".join(str(text).split())


def main(argv):
    if len(argv) < 3:
        print("usage: validate_result.py SCHEMA.json FILE.json...", file=sys.stderr)
        return 2
    try:
        import jsonschema
    except ImportError:
        print(f"validate_result.py: {sys.executable} has no jsonschema: install the Debian package "
              "python3-jsonschema", file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as f:
            schema = json.load(f)
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        validator = cls(schema)
    except (OSError, ValueError, jsonschema.exceptions.SchemaError) as e:
        print(f"validate_result.py: schema {argv[1]}: {one_line(e)}", file=sys.stderr)
        return 2

    invalid = 0
    for path in argv[2:]:
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            print(f"{path}: {one_line(e)}", file=sys.stderr)
            invalid += 1
            continue
        # best_match picks the most relevant of possibly many errors; one line per file.
        error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
        if error is not None:
            where = "/" + "/".join(str(p) for p in error.absolute_path)
            print(f"{path}: at {where}: {one_line(error.message)[:300]}", file=sys.stderr)
            invalid += 1
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
