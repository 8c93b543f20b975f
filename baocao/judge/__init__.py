"""Reading a unit's workbook safely and judging it: package checks, reader, validation, rules.

Pure judgement on top of the spec layer: bytes or a path in, values and issues out.
"""
