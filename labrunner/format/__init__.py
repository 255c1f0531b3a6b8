"""The lab format, version 1, declared as pydantic models.

`lab.py` holds the lab file, `checks.py` makes a model of each check kind from
its declared parameters, `values.py` the value types with their ranges, and
`problems.py` turns pydantic's errors into problems that name the file, the
line, the field and the fix. `schema.py` publishes the JSON Schema for editors.
"""
