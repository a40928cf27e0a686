"""The database floor: engine, schema, migrations and the repositories over them.

It imports no web framework and no Radicale.
"""
