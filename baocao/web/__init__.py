"""The web desk (``baocao serve``): unit pages by secret link, the coordinators' board.

The only package that imports the web framework (Starlette), its server (uvicorn), the
templates (Jinja2) and the password hashes (argon2); everything it shows comes from
``baocao.api``.
"""
